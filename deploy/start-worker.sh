#!/bin/sh
# Celery worker: any number of them, on any machine that reaches PostgreSQL and Redis.
set -e
cd "$(dirname "$0")/.."
exec celery -A core.celery:app worker --loglevel "${LOG_LEVEL:-info}" \
  --concurrency "${CELERY_CONCURRENCY:-2}" --without-gossip --without-mingle
