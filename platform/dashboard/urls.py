"""Every dashboard URL is scoped by a course slug; tests/dashboard/test_access.py lists them
all, so a URL added here without an access test fails the suite."""

from __future__ import annotations

from django.urls import path

from dashboard.views import authoring, deadlines, exercises, grades, lti, overview, people

app_name = "dashboard"
urlpatterns = [
    path("", overview.index, name="index"),
    path("<slug:course>/", overview.home, name="home"),
    path("<slug:course>/gradebook/", grades.gradebook, name="gradebook"),
    path("<slug:course>/gradebook.csv", grades.gradebook_csv, name="gradebook-csv"),
    path("<slug:course>/exercises/<slug:slug>/", exercises.exercise_detail, name="exercise"),
    path("<slug:course>/exercises/<slug:slug>/regrade", exercises.regrade_start,
         name="regrade-start"),
    path("<slug:course>/exercises/<slug:slug>/override/<str:username>", grades.override,
         name="override"),
    path("<slug:course>/submissions/", exercises.submissions, name="submissions"),
    path("<slug:course>/submissions/<int:pk>/", exercises.submission_detail, name="submission"),
    path("<slug:course>/regrades/<int:pk>/", exercises.regrade_detail, name="regrade"),
    path("<slug:course>/queues/", overview.queues, name="queues"),
    path("<slug:course>/author/lessons/new", authoring.lesson_edit, name="lesson-new"),
    path("<slug:course>/author/lessons/<slug:slug>/", authoring.lesson_edit, name="lesson-edit"),
    path("<slug:course>/author/lessons/<slug:slug>/export.zip", authoring.lesson_export,
         name="lesson-export"),
    path("<slug:course>/author/lessons/<slug:lesson>/exercises/new", authoring.exercise_new,
         name="exercise-new"),
    path("<slug:course>/author/exercises/<slug:slug>/", authoring.exercise_edit,
         name="exercise-edit"),
    path("<slug:course>/author/exercises/<slug:slug>/validate", authoring.exercise_validate,
         name="exercise-validate"),
    path("<slug:course>/author/exercises/<slug:slug>/publish", authoring.exercise_publish,
         name="exercise-publish"),
    path("<slug:course>/author/preview", authoring.exercise_preview, name="exercise-preview"),
    path("<slug:course>/my-grades/", grades.my_grades, name="my-grades"),
    path("<slug:course>/deadlines/", deadlines.deadlines, name="deadlines"),
    path("<slug:course>/people/", people.people, name="people"),
    path("<slug:course>/people/join/rotate", people.join_rotate, name="people-join-rotate"),
    path("<slug:course>/people/join/signup", people.join_signup, name="people-join-signup"),
    path("<slug:course>/people/staff", people.staff, name="people-staff"),
    path("<slug:course>/people/import", people.import_students, name="people-import"),
    path("<slug:course>/people/links.csv", people.links_csv, name="people-links-csv"),
    path("<slug:course>/people/<str:username>/reset-link", people.reset_link,
         name="people-reset-link"),
    path("<slug:course>/lti/", lti.lti, name="lti"),  # LMS registrations and passbacks
    path("<slug:course>/lti/passbacks/<int:pk>/retry", lti.lti_retry, name="lti-retry"),
    # JSON API (session or `Authorization: Token …`): 401/403 as JSON, never a redirect.
    path("<slug:course>/api/gradebook", grades.api_gradebook, name="api-gradebook"),
    path("<slug:course>/api/exercises/<slug:slug>", exercises.api_exercise, name="api-exercise"),
    path("<slug:course>/api/regrades/<int:pk>", exercises.api_regrade, name="api-regrade"),
    path("<slug:course>/api/queues", overview.api_queues, name="api-queues"),
    path("<slug:course>/api/validations/<int:pk>", authoring.api_validation, name="api-validation"),
]
