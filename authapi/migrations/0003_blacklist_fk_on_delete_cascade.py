"""Make the database cascade a token's deletion to its blacklist row, in every schema.

django-ninja-jwt declares BlacklistedToken.token with on_delete=CASCADE, but Django emulates
that in Python and creates the foreign key as NO ACTION. For every deleted outstanding token,
PostgreSQL's NO ACTION trigger then runs two lookups at commit (is the key back, is it still
referenced); an ON DELETE CASCADE trigger runs one. On the purge of expired tokens that
per-row trigger is most of the database's work, and this cuts the purge's time by about a
quarter (bench/README.md, "Purge"). It also makes the database agree with the model: a row
deleted outside the ORM takes its blacklist row with it instead of failing.

The constraint keeps its name and stays DEFERRABLE INITIALLY DEFERRED, as Django made it, so
inserts are still checked at commit. authapi is in SHARED_APPS and TENANT_APPS, so this runs in
public and in every tenant schema; the unqualified names resolve through the search_path of the
schema being migrated.
"""

from django.db import migrations

# Re-adding the key locks both tables (ACCESS EXCLUSIVE) while it checks every blacklist row;
# logins and refreshes of the tenant queue behind it, so give up (the migration fails and can
# be re-run) rather than wait behind a long transaction on either table.
_SWAP = """
SET LOCAL lock_timeout = '10s';
DO $$
DECLARE
    fk name;
BEGIN
    SELECT conname INTO STRICT fk FROM pg_constraint
    WHERE conrelid = 'token_blacklist_blacklistedtoken'::regclass
      AND confrelid = 'token_blacklist_outstandingtoken'::regclass
      AND contype = 'f';
    EXECUTE format(
        'ALTER TABLE token_blacklist_blacklistedtoken DROP CONSTRAINT %%1$I, '
        'ADD CONSTRAINT %%1$I FOREIGN KEY (token_id) '
        'REFERENCES token_blacklist_outstandingtoken (id) %s '
        'DEFERRABLE INITIALLY DEFERRED',
        fk
    );
END
$$
"""


class Migration(migrations.Migration):
    dependencies = [
        ("authapi", "0002_outstanding_expires_index"),
        ("token_blacklist", "0012_alter_outstandingtoken_user"),
    ]

    operations = [
        migrations.RunSQL(
            sql=_SWAP % "ON DELETE CASCADE",
            reverse_sql=_SWAP % "",
        ),
    ]
