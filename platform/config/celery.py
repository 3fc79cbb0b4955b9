"""The Celery app. Start a worker with `celery -A config worker -Q cpu,cpu-bulk` from
`platform/`: its own queue first, then regrades (docs/deploy.md, "Fairness")."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
