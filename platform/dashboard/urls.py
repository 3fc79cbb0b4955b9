"""Every dashboard URL is scoped by a course slug; tests/dashboard/test_access.py lists them
all, so a URL added here without an access test fails the suite."""

from __future__ import annotations

from django.urls import path

from dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:course>/", views.home, name="home"),
    path("<slug:course>/gradebook/", views.gradebook, name="gradebook"),
    path("<slug:course>/gradebook.csv", views.gradebook_csv, name="gradebook-csv"),
    path("<slug:course>/exercises/<slug:slug>/", views.exercise_detail, name="exercise"),
    path("<slug:course>/exercises/<slug:slug>/regrade", views.regrade_start, name="regrade-start"),
    path("<slug:course>/exercises/<slug:slug>/override/<str:username>", views.override,
         name="override"),
    path("<slug:course>/submissions/", views.submissions, name="submissions"),
    path("<slug:course>/submissions/<int:pk>/", views.submission_detail, name="submission"),
    path("<slug:course>/regrades/<int:pk>/", views.regrade_detail, name="regrade"),
    path("<slug:course>/queues/", views.queues, name="queues"),
    path("<slug:course>/author/lessons/new", views.lesson_edit, name="lesson-new"),
    path("<slug:course>/author/lessons/<slug:slug>/", views.lesson_edit, name="lesson-edit"),
    path("<slug:course>/author/lessons/<slug:slug>/export.zip", views.lesson_export,
         name="lesson-export"),
    path("<slug:course>/author/lessons/<slug:lesson>/exercises/new", views.exercise_new,
         name="exercise-new"),
    path("<slug:course>/author/exercises/<slug:slug>/", views.exercise_edit, name="exercise-edit"),
    path("<slug:course>/author/exercises/<slug:slug>/validate", views.exercise_validate,
         name="exercise-validate"),
    path("<slug:course>/author/exercises/<slug:slug>/publish", views.exercise_publish,
         name="exercise-publish"),
    path("<slug:course>/author/preview", views.exercise_preview, name="exercise-preview"),
    path("<slug:course>/my-grades/", views.my_grades, name="my-grades"),
    # JSON API (session or `Authorization: Token …`): 401/403 as JSON, never a redirect.
    path("<slug:course>/api/gradebook", views.api_gradebook, name="api-gradebook"),
    path("<slug:course>/api/exercises/<slug:slug>", views.api_exercise, name="api-exercise"),
    path("<slug:course>/api/regrades/<int:pk>", views.api_regrade, name="api-regrade"),
    path("<slug:course>/api/queues", views.api_queues, name="api-queues"),
    path("<slug:course>/api/validations/<int:pk>", views.api_validation, name="api-validation"),
]
