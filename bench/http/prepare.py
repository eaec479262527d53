"""Set up one app for the HTTP benchmark; run by run.py in the app's own Django settings.

    python bench/http/prepare.py {ours,peer} OUT_DIR --refresh N

Migrates a fresh database, creates the client "Bench Corp" on bench.localhost with two users
(`bench`, hashed by the production hasher; `benchfast`, hashed with MD5 for the fast-hasher
servers), and writes to OUT_DIR/<app>.json: a long-lived access token (ours signed as the
product signs them, with the client's own key under JWT_ALGORITHM), a static API key of
`bench` (ours: authapi.api_tokens, no expiry; the peer: DRF's rest_framework.authtoken Token),
the path of N fresh refresh tokens (one per line, each recorded as outstanding exactly as a
login would) and the median time of one production password check.
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

HOST = "bench.localhost"
PASSWORD = "correct horse battery staple"
ACCESS_LIFETIME = timedelta(hours=3)  # outlives the whole run


def _hasher_seconds(user) -> float:
    times = []
    for _ in range(7):
        start = time.perf_counter()
        assert user.check_password(PASSWORD)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _md5(password: str) -> str:
    from django.contrib.auth.hashers import MD5PasswordHasher

    hasher = MD5PasswordHasher()
    return hasher.encode(password, hasher.salt())


def _recorded_refresh_tokens(
    count,
    user,
    client,
    token_class,
    outstanding,
    from_epoch,
    *,
    encode=str,
    stored=lambda raw: raw,
    claims=None,
    session_ids=None,
):
    """`count` fresh refresh tokens of `user`, each recorded as outstanding (as a login does),
    with the app's own token class and model (ninja-jwt's or SimpleJWT's), signed by `encode`
    (ours: the client's own key) and kept in the table as `stored` makes it (ours: a digest);
    ours also carry `claims` (the issuer) and the id of a session of their own (`session_ids`),
    as each login's tokens do."""
    refresh, rows = [], []
    for n in range(count):
        token = token_class()
        token["user_id"] = user.pk
        token["client_id"] = client.pk
        token["client_name"] = client.name
        token.payload.update(claims or {})
        if session_ids is not None:
            token["sid"] = session_ids[n]
        refresh.append(encode(token))
        rows.append(
            outstanding(
                user=user,
                jti=token["jti"],
                token=stored(refresh[-1]),
                created_at=token.current_time,
                expires_at=from_epoch(token["exp"]),
            )
        )
    outstanding.objects.bulk_create(rows, batch_size=2000)
    return refresh


def prepare_ours(count: int) -> dict:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context
    from ninja_jwt.token_blacklist.models import OutstandingToken
    from ninja_jwt.utils import datetime_from_epoch

    from authapi import tokens
    from authapi.api_tokens import api_token_create
    from authapi.models import Session, User
    from onboarding.services import client_onboard
    from signing.jws import issuer_for, jwt_encode

    call_command("migrate_schemas", "--shared", verbosity=0)
    call_command("ensure_public_tenant", verbosity=0)
    client = client_onboard(
        name="Bench Corp",
        schema_name="bench",
        domain=HOST,
        admin_username="owner",
        admin_email="owner@bench.test",
        admin_password=PASSWORD,
    )
    with schema_context("bench"):
        user = User.objects.create_user("bench", "bench@bench.test", PASSWORD)
        User.objects.create(username="benchfast", email="fast@bench.test", password=_md5(PASSWORD))
        # A session per token, as every login makes (so rotations do not queue on one row).
        now = timezone.now()
        sessions = Session.objects.bulk_create(
            [
                Session(
                    user=user, created_at=now, last_used_at=now, expires_at=now + ACCESS_LIFETIME
                )
                for _ in range(count + 1)
            ],
            batch_size=2000,
        )
        # Signed as tokens.issue_pair signs them: the client's own key (JWT_ALGORITHM, ES256 by
        # default), its kid, the client's issuer; outstanding rows keep the refresh's digest.
        issuer = issuer_for(client)
        access = tokens.AccessToken()
        access.set_exp(lifetime=ACCESS_LIFETIME)
        access["user_id"] = user.pk
        access[tokens.CLIENT_ID] = client.pk
        access[tokens.CLIENT_NAME] = client.name
        access[tokens.SESSION_ID] = str(sessions[0].pk)
        access["iss"] = issuer
        refresh = _recorded_refresh_tokens(
            count,
            user,
            client,
            tokens.ClientRefreshToken,
            OutstandingToken,
            datetime_from_epoch,
            encode=lambda token: jwt_encode(token.payload, client),
            stored=tokens.token_digest,
            claims={"iss": issuer},
            session_ids=[str(s.pk) for s in sessions[1:]],
        )
        api_key = api_token_create(user=user, name="bench").key
        hasher = _hasher_seconds(user)
    connection.close()
    return {
        "access": jwt_encode(access.payload, client),
        "api_key": api_key,
        "refresh": refresh,
        "hasher_seconds": hasher,
        "algorithm": settings.JWT_ALGORITHM,
    }


def prepare_peer(count: int) -> dict:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import schema_context
    from rest_framework.authtoken.models import Token
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
    from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
    from rest_framework_simplejwt.utils import datetime_from_epoch

    from bench.peers.drf_tenants.clients.models import Client, Domain

    call_command("migrate_schemas", "--shared", verbosity=0)
    Client.objects.create(schema_name="public", name="Public")
    client = Client(schema_name="bench", name="Bench Corp")
    client.save(verbosity=0)  # auto_create_schema: runs the tenant migrations
    Domain.objects.create(domain=HOST, tenant=client, is_primary=True)
    with schema_context("bench"):
        user = User.objects.create_user("bench", "bench@bench.test", PASSWORD)
        User.objects.create(username="benchfast", email="fast@bench.test", password=_md5(PASSWORD))
        access = AccessToken.for_user(user)
        access.set_exp(lifetime=ACCESS_LIFETIME)
        access["client_id"] = client.pk
        access["client_name"] = client.name
        refresh = _recorded_refresh_tokens(
            count, user, client, RefreshToken, OutstandingToken, datetime_from_epoch
        )
        api_key = Token.objects.create(user=user).key
        hasher = _hasher_seconds(user)
    connection.close()
    return {
        "access": str(access),
        "api_key": api_key,
        "refresh": refresh,
        "hasher_seconds": hasher,
        "algorithm": "HS256",  # SimpleJWT's default, one shared secret
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app", choices=["ours", "peer"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--refresh", type=int, default=50_000)
    args = parser.parse_args()
    os.environ.setdefault(
        "DJANGO_SETTINGS_MODULE",
        "core.settings" if args.app == "ours" else "bench.peers.drf_tenants.settings",
    )
    import django

    django.setup()
    data = (prepare_ours if args.app == "ours" else prepare_peer)(args.refresh)
    tokens_file = args.out / f"{args.app}-refresh.txt"
    tokens_file.write_text("\n".join(data.pop("refresh")) + "\n")
    data["refresh_file"] = str(tokens_file)
    (args.out / f"{args.app}.json").write_text(json.dumps(data))


if __name__ == "__main__":
    main()
