"""`/accounts/…`. Every name here is listed, with who may open it, in
tests/dashboard/test_access.py (ACCOUNT_URLS): a URL added without an entry fails the suite."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts.views import RateLimitedLoginView, RateLimitedResetView, account, signup

urlpatterns = [
    path("", account, name="account"),
    path("login/", RateLimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", signup, name="signup"),
    path("password_change/", auth_views.PasswordChangeView.as_view(
        template_name="accounts/password_change_form.html"), name="password_change"),
    path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(
        template_name="accounts/password_change_done.html"), name="password_change_done"),
    path("password_reset/", RateLimitedResetView.as_view(), name="password_reset"),
    path("password_reset/done/", auth_views.PasswordResetDoneView.as_view(
        template_name="accounts/password_reset_done.html"), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        template_name="accounts/password_reset_confirm.html",
        success_url=reverse_lazy("password_reset_complete")), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(
        template_name="accounts/password_reset_complete.html"), name="password_reset_complete"),
]
