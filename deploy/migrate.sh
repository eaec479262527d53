#!/bin/sh
# One-shot migrate step: public schema, then every tenant schema (in parallel), then the public
# tenant row. Safe to re-run; run it before rolling out new web/worker images.
set -e
cd "$(dirname "$0")/.."
python manage.py migrate_schemas --shared --verbosity 1
python manage.py migrate_schemas --tenant --executor "${MIGRATION_EXECUTOR:-multiprocessing}" --verbosity 1
python manage.py ensure_public_tenant
