"""Refresh tokens at rest as digests only, in every schema.

django-ninja-jwt's outstanding-token table kept each refresh token's full text, so a read of the
table was a login as anyone. From this release `authapi.tokens.issue_pair` stores
`sha256:<hex>` of the token instead; this rewrites the rows stored before it the same way, in one
statement per schema. Nothing looks a token up by its text (rotation, logout and revocation go
by `jti`), so every refresh token issued before the upgrade keeps working until it expires.
"""

from django.db import migrations

_DIGEST_ROWS = """
UPDATE token_blacklist_outstandingtoken
SET token = 'sha256:' || encode(sha256(convert_to(token, 'UTF8')), 'hex')
WHERE token NOT LIKE 'sha256:%%'
"""


class Migration(migrations.Migration):
    dependencies = [
        ("authapi", "0004_normalise_login_strings"),
        ("token_blacklist", "0012_alter_outstandingtoken_user"),
    ]

    operations = [migrations.RunSQL(_DIGEST_ROWS, migrations.RunSQL.noop)]
