#!/bin/sh
# One-shot migrate step: public schema, then the tenant schemas (in parallel), then the public
# tenant row. Safe to re-run; run it before rolling out new web/worker images.
# The tenant pass skips the schemas already at the latest migrations (found in one query) and
# migrates the rest MIGRATION_PROCESSES at a time; MIGRATE_ALL_SCHEMAS=1 runs every schema.
set -e
cd "$(dirname "$0")/.."
python manage.py migrate_schemas --shared --verbosity 1
python manage.py migrate_schemas --tenant --executor "${MIGRATION_EXECUTOR:-multiprocessing}" \
  ${MIGRATE_ALL_SCHEMAS:+--all-schemas} --verbosity 1
python manage.py ensure_public_tenant
