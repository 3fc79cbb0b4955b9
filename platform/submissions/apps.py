from django.apps import AppConfig


class SubmissionsConfig(AppConfig):
    name = "submissions"
    verbose_name = "Submissions"

    def ready(self) -> None:
        # The submit's exercise cache forgets a changed exercise or version (selectors.py).
        from django.db.models.signals import post_delete, post_save

        from courses.models import Exercise, ExerciseVersion
        from submissions.selectors import forget_exercises

        for model in (Exercise, ExerciseVersion):
            post_save.connect(forget_exercises, sender=model,
                              dispatch_uid=f"forget-exercises-{model.__name__}-save")
            post_delete.connect(forget_exercises, sender=model,
                                dispatch_uid=f"forget-exercises-{model.__name__}-delete")
