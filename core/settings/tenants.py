"""Schema-per-client tenancy.

https://django-tenants.readthedocs.io/en/latest/install.html
"""

from core.settings.environment import env, env_int

# Apps whose tables live in the public schema. Users, sessions, the admin log and the JWT token
# tables are also here because the platform's own staff sign in on the public host.
SHARED_APPS = [
    # Before django_tenants: its `migrate_schemas` (tenants/management/commands) is the one found.
    "tenants",
    "django_tenants",
    "audit",
    "signing",
    "onboarding",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "authapi",
    "django.contrib.sessions",
    "django.contrib.admin",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # its templates and static files: /api/docs works offline (no CDN)
    "ninja_jwt",
    "ninja_jwt.token_blacklist",
    "corsheaders",
]

# Apps whose tables exist in every tenant schema. Every table a tenant uses must be listed here:
# the search_path is "<tenant>, public", so a table missing from the tenant schema would silently
# resolve to the public one.
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "audit",
    "authapi",
    "django.contrib.sessions",
    "django.contrib.admin",
    "ninja_jwt.token_blacklist",
]

INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Client"
TENANT_DOMAIN_MODEL = "tenants.Domain"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
PUBLIC_SCHEMA_URLCONF = "core.urls_public"
# Issue `SET search_path` once per connection and tenant switch, not before every cursor.
TENANT_LIMIT_SET_CALLS = True

PUBLIC_HOST = (env("PUBLIC_HOST", "localhost") or "localhost").lower()

# `migrate_schemas --executor multiprocessing`: how many schemas migrate at once, how many
# schemas a worker takes per hand-out, and after how many hand-outs a worker is replaced by a
# fresh fork (so that whatever one migration leaves in a worker's memory cannot add up over
# 10,000 schemas; bench/README.md "Onboarding at scale" measured no growth, this bounds it).
# https://django-tenants.readthedocs.io/en/latest/use.html#migrations
TENANT_MULTIPROCESSING_MAX_PROCESSES = env_int("MIGRATION_PROCESSES", 2)
TENANT_MULTIPROCESSING_CHUNKS = env_int("MIGRATION_CHUNKS", 2)
TENANT_MULTIPROCESSING_MAX_TASKS_PER_CHILD = env_int("MIGRATION_MAX_TASKS_PER_CHILD", 100) or None

# New clients are copied from this migrated, never-served schema instead of replaying every
# migration (tenants.template, tenants.schema_clone). Its leading underscore is outside the
# schema names onboarding accepts, and a check constraint keeps it out of the Client table.
TENANT_TEMPLATE_SCHEMA = "_tenant_template"
# The same executors as django-tenants', plus a template rebuild after the tenant pass of
# `migrate_schemas` when the migrations changed (tenants.executors).
GET_EXECUTOR_FUNCTION = "tenants.executors.get_executor"
