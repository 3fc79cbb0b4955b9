"""The Celery app. Start a worker with `celery -A config worker -Q cpu,cpu-bulk` from
`platform/`: its own queue first, then regrades (docs/deploy.md, "Fairness")."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("platform")
# The CELERY_* Django settings, read from a plain dict: Celery looks a setting up under
# several names, and each miss on Django's settings object raised and caught an
# AttributeError, ~24 per task sent (~0.1 ms of a submit; benchmarks/RESULTS.md, ninth
# round). The dict is built when Celery first reads its configuration.
app.config_from_object("config.celery:DJANGO_CELERY_SETTINGS", namespace="CELERY")
app.autodiscover_tasks()


def __getattr__(name: str) -> Any:
    if name == "DJANGO_CELERY_SETTINGS":
        from django.conf import settings

        return {key: getattr(settings, key) for key in dir(settings)
                if key.startswith("CELERY_")}
    raise AttributeError(name)
