from django.contrib import admin
from django.urls import include, path

from accounts.views import admin_login, join
from config import views as site_views
from submissions import api
from submissions.health import healthz

# Styled pages for the site, JSON for /api/ (config/views.py); the 500 page needs no database.
handler403 = site_views.permission_denied
handler404 = site_views.page_not_found
handler500 = site_views.server_error

urlpatterns = [
    path("", include("courses.urls")),
    path("", include("drafts.urls")),
    path("accounts/", include("accounts.urls")),
    path("join/<slug:code>", join, name="join"),  # a course's join link
    path("dashboard/", include("dashboard.urls")),
    path("lti/", include("lti.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # Before admin.site.urls: the admin's login form goes through the login limiter too.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", site_views.favicon, name="favicon"),
    path(
        "api/exercises/<slug:slug>/submissions",
        api.submission_create_or_list,
        name="api-exercise-submissions",
    ),
    path("api/submissions/<int:pk>", api.submission_detail_view, name="api-submission"),
]
