from django.urls import path

from drafts import api, preferences

urlpatterns = [
    path("api/exercises/<slug:slug>/draft", api.draft_view, name="api-draft"),
    path("api/exercises/<slug:slug>/hints", api.hints_view, name="api-hints"),
    path(
        "api/submissions/<int:pk>/position", api.queue_position_view, name="api-queue-position"
    ),
    path("preferences/language", preferences.set_language_view, name="set-language"),
]
