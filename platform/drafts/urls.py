from django.urls import path

from drafts import api, preferences

urlpatterns = [
    path("api/exercises/<slug:slug>/draft", api.draft_view, name="api-draft"),
    path("api/exercises/<slug:slug>/hints", api.hints_view, name="api-hints"),
    path("preferences/language", preferences.set_language_view, name="set-language"),
]
