"""The Celery app: `celery -A core.celery:app worker|beat`. Configured from Django settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

app = Celery("tenantauth")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
