#!/bin/sh
# Celery beat: exactly one in the whole deployment (it only enqueues; workers do the work).
set -e
cd "$(dirname "$0")/.."
exec celery -A core.celery:app beat --loglevel "${LOG_LEVEL:-info}" \
  --schedule "${CELERY_BEAT_SCHEDULE_FILE:-/tmp/celerybeat-schedule}"
