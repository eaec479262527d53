"""Django-side steps of the soak, each run by run.py in a fresh process with the servers'
environment; each prints one JSON line last.

    python bench/soak/prepare.py setup --clients 50 --users 2 --key-expiry-seconds 700
    python bench/soak/prepare.py rows          # what is left, per schema, at this moment
    python bench/soak/prepare.py purge         # purge every schema to completion, then count

setup: migrates the public schema, onboards the clients through onboarding.services.
client_onboard (the template-copy path the admin and create_client use; its first admin hashed
by the production hasher, Argon2id), adds `--users` customers per client (one Argon2 hash made
once and shared, so set-up does not hash a thousand times), and four static API keys per client
whose expiries are spread over the next `--key-expiry-seconds`, so that keys expire during the
soak and the purge has some to delete. Answers the hosts, the users and the median time of one
production password check.

rows: per schema, the expired rows the purge should delete (outstanding tokens expired, dead
sessions: past their lifetime or ended longer ago than a refresh token lives, expired API keys),
and the live rows for scale. purge: authapi.purge.tokens_purge_expired on every schema with one
`now`, then the same counts at that `now` (target: 0 expired everywhere).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PASSWORD = "correct horse battery staple"
API_KEYS_PER_CLIENT = 4


def host_of(n: int) -> str:
    return f"soak{n:02d}.localhost"


def setup(clients: int, users: int, key_expiry_seconds: int) -> dict:
    from django.contrib.auth.hashers import check_password, get_hasher, make_password
    from django.core.management import call_command
    from django.utils import timezone

    from authapi.api_tokens import api_token_create
    from authapi.models import ApiToken, User
    from core.tenancy import dangerously_in_schema
    from onboarding.services import client_onboard

    call_command("migrate_schemas", "--shared", verbosity=0)
    call_command("ensure_public_tenant", verbosity=0)
    encoded = make_password(PASSWORD)
    started = time.monotonic()
    out = []
    for n in range(clients):
        schema = f"soak{n:02d}"
        client_onboard(
            name=f"Soak {n:02d}",
            schema_name=schema,
            domain=host_of(n),
            admin_username="owner",
            admin_email=f"owner@{schema}.test",
            admin_password=PASSWORD,
        )
        with dangerously_in_schema(schema):
            made = User.objects.bulk_create(
                [
                    User(username=f"user{u}", email=f"user{u}@{schema}.test", password=encoded)
                    for u in range(users)
                ]
            )
            now = timezone.now()
            for k in range(API_KEYS_PER_CLIENT):
                key = api_token_create(user=made[0], name=f"soak key {k}").record
                expires = now + timedelta(seconds=key_expiry_seconds * (k + 1 + n / clients) / 5)
                ApiToken.objects.filter(pk=key.pk).update(expires_at=expires)
        out.append({"host": host_of(n), "users": [u.username for u in made]})
    onboard_seconds = time.monotonic() - started
    times = []
    for _ in range(5):
        t = time.perf_counter()
        assert check_password(PASSWORD, encoded)
        times.append(time.perf_counter() - t)
    return {
        "clients": out,
        "password": PASSWORD,
        "hasher": get_hasher().algorithm,
        "hasher_ms": round(statistics.median(times) * 1000, 1),
        "onboard_seconds": round(onboard_seconds, 1),
    }


_ROWS_SQL = {
    "outstanding_expired": "SELECT count(*) FROM token_blacklist_outstandingtoken "
    "WHERE expires_at < %(now)s",
    "outstanding_live": "SELECT count(*) FROM token_blacklist_outstandingtoken "
    "WHERE expires_at >= %(now)s",
    "blacklisted": "SELECT count(*) FROM token_blacklist_blacklistedtoken",
    "sessions_dead": "SELECT count(*) FROM authapi_session "
    "WHERE expires_at < %(now)s OR ended_at < %(ended_before)s",
    # Live sessions and those ended too recently to purge (ended_at is NULL while live).
    "sessions_kept": "SELECT count(*) FROM authapi_session "
    "WHERE expires_at >= %(now)s AND (ended_at IS NULL OR ended_at >= %(ended_before)s)",
    "api_keys_expired": "SELECT count(*) FROM authapi_apitoken WHERE expires_at < %(now)s",
    "api_keys_live": "SELECT count(*) FROM authapi_apitoken "
    "WHERE expires_at IS NULL OR expires_at >= %(now)s",
}


def rows(now=None) -> dict:
    """Per kind of row, the sum over public and every client's schema, and the schemas that
    still hold an expired row of any kind."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from authapi.purge import schemas_to_purge
    from core.tenancy import dangerously_in_schema

    now = now or timezone.now()
    params = {"now": now, "ended_before": now - settings.NINJA_JWT["REFRESH_TOKEN_LIFETIME"]}
    totals = dict.fromkeys(_ROWS_SQL, 0)
    dirty = []
    schemas = schemas_to_purge()
    for schema in schemas:
        with dangerously_in_schema(schema), connection.cursor() as cursor:
            counts = {}
            for kind, sql in _ROWS_SQL.items():
                cursor.execute(sql, params)
                counts[kind] = cursor.fetchone()[0]
        for kind, value in counts.items():
            totals[kind] += value
        if counts["outstanding_expired"] or counts["sessions_dead"] or counts["api_keys_expired"]:
            dirty.append(schema)
    return {"at": now.isoformat(), "schemas": len(schemas), "totals": totals, "dirty": dirty}


def purge() -> dict:
    from django.utils import timezone

    from authapi.purge import schemas_to_purge, tokens_purge_expired

    now = timezone.now()
    started = time.monotonic()
    deleted = {"outstanding": 0, "blacklisted": 0, "sessions": 0, "api_tokens": 0}
    for schema in schemas_to_purge():
        result = tokens_purge_expired(schema_name=schema, now=now)
        deleted["outstanding"] += result.outstanding_deleted
        deleted["blacklisted"] += result.blacklisted_deleted
        deleted["sessions"] += result.sessions_deleted
        deleted["api_tokens"] += result.api_tokens_deleted
    return {"deleted": deleted, "seconds": round(time.monotonic() - started, 2), **rows(now)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["setup", "rows", "purge"])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--key-expiry-seconds", type=int, default=700)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    import django

    django.setup()
    if args.step == "setup":
        result = setup(args.clients, args.users, args.key_expiry_seconds)
    elif args.step == "rows":
        result = rows()
    else:
        result = purge()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
