"""NFKC-normalise the usernames and emails stored before registration did, in every schema.

Login compares NFKC forms case-insensitively (authapi.selectors.login_normalize), so a username
stored in full-width letters before this release could neither log in by what it was registered as nor
block a new "admin". A row is rewritten only when its normalised form names no other account;
the rest are left as they are and logged (login refuses a string that names two accounts, so
they stay safe, only ambiguous).
"""

import logging
import unicodedata

from django.db import migrations
from django.db.models import Q

log = logging.getLogger(__name__)


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


def normalise(apps, schema_editor):
    User = apps.get_model("authapi", "User")
    for user in User.objects.only("id", "username", "email").iterator():
        username, email = _nfkc(user.username), _nfkc(user.email)
        if (username, email) == (user.username, user.email):
            continue
        others = User.objects.exclude(pk=user.pk)
        clash = others.filter(
            Q(username__iexact=username) | Q(email__iexact=username)
        ).exists() or (
            email and others.filter(Q(username__iexact=email) | Q(email__iexact=email)).exists()
        )
        if clash:
            log.warning("event=login_not_normalised user_id=%s reason=clash", user.pk)
            continue
        user.username, user.email = username, email
        user.save(update_fields=["username", "email"])


class Migration(migrations.Migration):
    dependencies = [("authapi", "0003_blacklist_fk_on_delete_cascade")]

    operations = [migrations.RunPython(normalise, migrations.RunPython.noop)]
