from django.contrib import admin
from django.urls import include, path

from accounts.views import admin_login
from submissions import api
from submissions.health import healthz

urlpatterns = [
    path("", include("courses.urls")),
    path("", include("drafts.urls")),
    path("accounts/", include("accounts.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # Before admin.site.urls: the admin's login form goes through the login limiter too.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path(
        "api/exercises/<slug:slug>/submissions",
        api.submission_create_or_list,
        name="api-exercise-submissions",
    ),
    path("api/submissions/<int:pk>", api.submission_detail_view, name="api-submission"),
]
