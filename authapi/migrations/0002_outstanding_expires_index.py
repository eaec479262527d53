"""Index token_blacklist_outstandingtoken(expires_at) in every schema.

django-ninja-jwt ships no index on the expiry column, so the purge of expired tokens would scan
the whole table. authapi is in SHARED_APPS and TENANT_APPS, so this runs in public and in every
tenant schema; the unqualified table name resolves through the search_path of the schema being
migrated.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("authapi", "0001_initial"),
        ("token_blacklist", "0012_alter_outstandingtoken_user"),
    ]

    operations = [
        migrations.RunSQL(
            sql=(
                "CREATE INDEX IF NOT EXISTS token_blacklist_outstandingtoken_expires_at_idx "
                "ON token_blacklist_outstandingtoken (expires_at)"
            ),
            reverse_sql="DROP INDEX IF EXISTS token_blacklist_outstandingtoken_expires_at_idx",
        ),
    ]
