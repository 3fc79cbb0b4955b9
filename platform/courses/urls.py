from django.urls import path

from courses import views

app_name = "courses"
urlpatterns = [
    path("", views.course_index, name="index"),
    path("lessons/<slug:slug>/", views.lesson_page, name="lesson"),
]
