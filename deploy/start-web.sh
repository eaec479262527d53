#!/bin/sh
# Web tier: gunicorn with deploy/gunicorn.conf.py (workers from WEB_CONCURRENCY).
set -e
cd "$(dirname "$0")/.."
exec gunicorn -c deploy/gunicorn.conf.py core.wsgi:application
