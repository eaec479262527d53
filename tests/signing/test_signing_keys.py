"""Signing keys per client (SPEC §9) through the real middleware: ES256 key pairs, kid and iss,
the JWKS, verification by downstream code with PyJWT and nothing but the JWKS and the issuer,
rotation, and the forgeries a key per client must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta
from http import HTTPStatus

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.management import call_command
from django.utils import timezone

from authapi import purge
from authapi.models import User
from signing.jws import jwt_encode
from signing.models import SigningKey
from signing.services import key_rotate
from tests.authapi.conftest import Api, keys_made_after
from tests.conftest import host_client

pytestmark = pytest.mark.django_db

ISSUER_A = "https://acme.localhost"  # tests run with DEBUG off: https://<primary domain>


@pytest.fixture
def dana(tenant_a, make_user) -> User:
    return make_user(tenant_a, "dana")


def header(raw: str) -> dict:
    return jwt.get_unverified_header(raw)


def jwks(api: Api) -> dict:
    response = api.get("/.well-known/jwks.json")
    assert response.status_code == HTTPStatus.OK, response.content
    return response.json()


def me(api: Api, access: str) -> int:
    return api.get("/api/user/", token=access).status_code


def test_tokens_carry_the_clients_kid_and_issuer_and_are_es256(api_a, tenant_a, dana):
    pair = api_a.login("dana")
    current = SigningKey.objects.get(client=tenant_a, state=SigningKey.State.CURRENT)
    for raw in (pair["access"], pair["refresh"]):
        assert header(raw) == {"alg": "ES256", "kid": current.kid, "typ": "JWT"}
        assert jwt.decode(raw, options={"verify_signature": False})["iss"] == ISSUER_A


def test_a_downstream_service_verifies_with_pyjwt_and_nothing_but_the_jwks_and_issuer(
    api_a, api_b, tenant_b, dana
):
    access = api_a.login("dana")["access"]
    key_set = jwt.PyJWKSet.from_dict(jwks(api_a))
    key = next(k for k in key_set.keys if k.key_id == header(access)["kid"])
    claims = jwt.decode(access, key.key, algorithms=["ES256"], issuer=ISSUER_A)
    assert claims["user_id"] == dana.pk and claims["client_name"] == "Acme Corp"
    # Another client's JWKS has no key that verifies it.
    other = jwt.PyJWKSet.from_dict(jwks(api_b))
    assert header(access)["kid"] not in {k.key_id for k in other.keys}
    for other_key in other.keys:
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(access, other_key.key, algorithms=["ES256"], issuer=ISSUER_A)


def test_the_jwks_is_public_cacheable_readable_from_any_origin_and_has_no_private_part(
    api_a, http_public, tenant_a
):
    response = api_a.get("/.well-known/jwks.json", HTTP_ORIGIN="https://anyone.example")
    assert response["Cache-Control"] == "public, max-age=300"
    assert response["Access-Control-Allow-Origin"] == "https://anyone.example"
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert {"kid", "kty", "alg", "use"} <= set(key) and key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), key
    assert http_public.get("/.well-known/jwks.json").status_code == HTTPStatus.NOT_FOUND
    unknown = Api(host_client("nope.localhost"))
    assert unknown.get("/.well-known/jwks.json").json()["code"] == "tenant_not_found"


def test_hs256_mode_has_no_jwks_and_signs_with_the_shared_secret(api_a, dana, settings):
    settings.JWT_ALGORITHM = "HS256"
    assert api_a.get("/.well-known/jwks.json").status_code == HTTPStatus.NOT_FOUND
    pair = api_a.login("dana")
    assert header(pair["access"])["alg"] == "HS256" and "kid" not in header(pair["access"])
    assert me(api_a, pair["access"]) == HTTPStatus.OK


def test_rotation_keeps_old_tokens_working_signs_new_ones_with_the_new_kid_and_retire_kills_them(
    api_a, tenant_a, dana
):
    old = api_a.login("dana")
    assert me(api_a, old["access"]) == HTTPStatus.OK  # remembered as verified here
    call_command("rotate_signing_key", "--schema", tenant_a.schema_name)
    new = api_a.login("dana")
    assert header(new["access"])["kid"] != header(old["access"])["kid"]
    assert {k["kid"] for k in jwks(api_a)["keys"]} == {
        header(old["access"])["kid"],
        header(new["access"])["kid"],
    }
    assert me(api_a, old["access"]) == HTTPStatus.OK
    refreshed = api_a.post("/api/auth/token/refresh/", {"refresh": old["refresh"]})
    assert refreshed.status_code == HTTPStatus.OK  # and the pair it gets is signed by the new key
    assert header(refreshed.json()["access"])["kid"] == header(new["access"])["kid"]
    call_command("rotate_signing_key", "--schema", tenant_a.schema_name, "--retire-previous")
    newest = api_a.login("dana")
    for dead in (old["access"], new["access"], refreshed.json()["access"]):
        assert me(api_a, dead) == HTTPStatus.UNAUTHORIZED
    assert me(api_a, newest["access"]) == HTTPStatus.OK
    assert [k["kid"] for k in jwks(api_a)["keys"]] == [header(newest["access"])["kid"]]
    retired = SigningKey.objects.filter(client=tenant_a, state=SigningKey.State.RETIRED)
    assert retired.count() >= 2 and not any(bytes(k.private_key_encrypted) for k in retired)


def test_the_purge_retires_a_key_once_every_token_it_signed_has_expired(
    api_a, tenant_a, dana, settings
):
    old = api_a.login("dana")
    replaced = SigningKey.objects.get(client=tenant_a, state=SigningKey.State.CURRENT)
    key_rotate(client=tenant_a)
    soon = purge.tokens_purge_expired(schema_name="public")
    assert soon.signing_keys_retired == 0
    lifetime = settings.NINJA_JWT["REFRESH_TOKEN_LIFETIME"]
    later = purge.tokens_purge_expired(
        schema_name="public", now=timezone.now() + lifetime + timedelta(seconds=1)
    )
    assert later.signing_keys_retired == 1
    replaced.refresh_from_db()
    assert replaced.state == SigningKey.State.RETIRED
    assert replaced.kid not in {k["kid"] for k in jwks(api_a)["keys"]}
    assert me(api_a, old["access"]) == HTTPStatus.UNAUTHORIZED


def test_rotate_signing_key_all_and_an_unknown_schema(tenant_a, tenant_b, capsys):
    before = dict(
        SigningKey.objects.filter(state=SigningKey.State.CURRENT).values_list("client_id", "kid")
    )
    call_command("rotate_signing_key", "--all")
    after = dict(
        SigningKey.objects.filter(state=SigningKey.State.CURRENT).values_list("client_id", "kid")
    )
    assert after[tenant_a.pk] != before[tenant_a.pk] and after[tenant_b.pk] != before[tenant_b.pk]
    with pytest.raises(SystemExit) as exit_info:
        call_command("rotate_signing_key", "--schema", "nope")
    assert exit_info.value.code == 1 and "no client" in capsys.readouterr().err


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header_: dict, payload: dict, key, algorithm: str) -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers=header_)


def _claims_like(access: str) -> dict:
    claims = jwt.decode(access, options={"verify_signature": False})
    claims["exp"] = int((timezone.now() + timedelta(minutes=5)).timestamp())
    return claims


def _hs256(claims: dict, secret: bytes, extra_header: dict | None = None) -> str:
    """An HS256 token made by hand (PyJWT refuses a PEM public key as an HMAC secret)."""
    signing_input = (
        _b64(json.dumps({"alg": "HS256", "typ": "JWT", **(extra_header or {})}).encode())
        + "."
        + _b64(json.dumps(claims).encode())
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def test_forgeries_are_refused(api_a, tenant_a, tenant_b, dana):
    access = api_a.login("dana")["access"]
    assert me(api_a, access) == HTTPStatus.OK
    claims = _claims_like(access)
    kid = header(access)["kid"]
    attacker = ec.generate_private_key(ec.SECP256R1())
    published = next(k for k in jwks(api_a)["keys"] if k["kid"] == kid)
    pem = jwt.algorithms.ECAlgorithm.from_jwk(published).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = {
        # This client's kid on a token signed by another key.
        "our kid, attacker's key": _forge({"kid": kid}, claims, attacker, "ES256"),
        # alg: HS256 with the public key (PEM, or the JWK as published) as the secret.
        "HS256, public key PEM as secret": _hs256(claims, pem, {"kid": kid}),
        "HS256, public key PEM, no kid": _hs256(claims, pem),
        "HS256, public JWK as secret": _hs256(claims, json.dumps(published).encode()),
        "alg none": jwt.encode(claims, None, algorithm="none", headers={"kid": kid}),
        # jku / x5u / jwk headers pointing at the attacker's key are never followed.
        "jku and x5u": _forge(
            {"kid": kid, "jku": "https://evil.test/jwks.json", "x5u": "https://evil.test/c.pem"},
            claims,
            attacker,
            "ES256",
        ),
        "embedded jwk": _forge(
            {"jwk": jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key(), as_dict=True)},
            claims,
            attacker,
            "ES256",
        ),
        "unknown kid": _forge({"kid": "unknown"}, claims, attacker, "ES256"),
        "RS256 while ES256 is configured": _forge(
            {"kid": kid},
            claims,
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "RS256",
        ),
    }
    # Signed with another client's real key (under its own kid).
    forged["another client's key"] = jwt_encode(claims, tenant_b)
    other_kid = SigningKey.objects.get(client=tenant_b, state=SigningKey.State.CURRENT).kid
    assert header(forged["another client's key"])["kid"] == other_kid
    for what, raw in forged.items():
        assert me(api_a, raw) == HTTPStatus.UNAUTHORIZED, what
        verify = api_a.post("/api/auth/token/verify/", {"token": raw})
        assert verify.status_code == HTTPStatus.UNAUTHORIZED, what


def test_hs256_tokens_from_before_the_switch_keep_working_and_no_later_ones(
    api_a, tenant_a, dana, settings
):
    settings.JWT_ALGORITHM = "HS256"
    before = api_a.login("dana")
    settings.JWT_ALGORITHM = "ES256"
    keys_made_after(tenant_a, timezone.now() + timedelta(seconds=2))
    assert me(api_a, before["access"]) == HTTPStatus.OK
    rotated = api_a.post("/api/auth/token/refresh/", {"refresh": before["refresh"]})
    assert rotated.status_code == HTTPStatus.OK
    assert header(rotated.json()["access"])["alg"] == "ES256"  # new tokens come from the pair
    keys_made_after(tenant_a, timezone.now() - timedelta(hours=1))
    settings.JWT_ALGORITHM = "HS256"
    after = api_a.login("dana")  # made with the secret after the key pair existed
    settings.JWT_ALGORITHM = "ES256"
    assert me(api_a, after["access"]) == HTTPStatus.UNAUTHORIZED


def test_rs256_makes_rsa_key_pairs_and_refuses_es256_tokens(api_a, tenant_a, dana, settings):
    es = api_a.login("dana")
    settings.JWT_ALGORITHM = "RS256"
    rs = api_a.login("dana")  # the client's key is replaced by an RSA pair of its own
    assert header(rs["access"])["alg"] == "RS256"
    key = jwt.PyJWKSet.from_dict(jwks(api_a))[header(rs["access"])["kid"]]
    assert jwt.decode(rs["access"], key.key, algorithms=["RS256"], issuer=ISSUER_A)
    assert me(api_a, rs["access"]) == HTTPStatus.OK
    assert me(api_a, es["access"]) == HTTPStatus.UNAUTHORIZED


def test_the_private_key_never_leaves_the_server(api_a, tenant_a, dana, caplog, operator_http):
    caplog.set_level(logging.DEBUG)
    key_rotate(client=tenant_a)
    api_a.login("dana")
    current = SigningKey.objects.get(client=tenant_a, state=SigningKey.State.CURRENT)
    from signing.crypto import private_key_decrypt

    private = private_key_decrypt(bytes(current.private_key_encrypted))
    d = _b64(private.private_numbers().private_value.to_bytes(32, "big"))
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    pem_body = "".join(pem.strip().splitlines()[1:-1])
    stored = bytes(current.private_key_encrypted)
    assert b"BEGIN" not in stored and pem_body.encode() not in stored and d.encode() not in stored
    assert d not in json.dumps(jwks(api_a))
    page = operator_http.get(f"/admin/tenants/client/{tenant_a.pk}/change/")
    assert page.status_code == HTTPStatus.OK and current.kid.encode() in page.content
    for secret in (d, pem_body[:40], stored.decode()[:40]):
        assert secret.encode() not in page.content
        assert secret not in caplog.text


def test_onboarding_makes_a_key_pair_and_the_admin_rotates_it(operator_http, tenant_a):
    first = SigningKey.objects.get(client=tenant_a, state=SigningKey.State.CURRENT)
    response = operator_http.post(
        "/admin/tenants/client/",
        {"action": "rotate_signing_key", "_selected_action": [tenant_a.pk]},
        follow=True,
    )
    assert b"new signing key" in response.content
    first.refresh_from_db()
    assert first.state == SigningKey.State.PREVIOUS and first.verify_until is not None
    assert SigningKey.objects.get(client=tenant_a, state=SigningKey.State.CURRENT).kid != first.kid


def test_the_shared_secret_signs_nothing_after_the_upgrade_window(api_a, tenant_a, dana, settings):
    import time_machine

    settings.JWT_ALGORITHM = "HS256"
    before = api_a.login("dana")
    settings.JWT_ALGORITHM = "ES256"
    keys_made_after(tenant_a, timezone.now() + timedelta(seconds=2))
    # Forged with the secret: issued "before", but living far longer than any token of ours.
    claims = jwt.decode(before["access"], options={"verify_signature": False})
    claims["exp"] = claims["iat"] + 10 * 365 * 86400
    forged = jwt.encode(claims, settings.NINJA_JWT["SIGNING_KEY"], algorithm="HS256")
    assert me(api_a, forged) == HTTPStatus.UNAUTHORIZED
    assert me(api_a, before["access"]) == HTTPStatus.OK  # genuine, and remembered as verified
    lifetime = settings.NINJA_JWT["REFRESH_TOKEN_LIFETIME"]
    with time_machine.travel(timezone.now() + lifetime + timedelta(minutes=1)):
        # Past the window even the memo refuses it (it would have expired anyway; the point is
        # that no HS256 token, however its claims read, outlives the window).
        claims = jwt.decode(before["refresh"], options={"verify_signature": False})
        late = dict(claims, iat=claims["iat"], exp=int(time.time()) + 60)
        late_token = jwt.encode(late, settings.NINJA_JWT["SIGNING_KEY"], algorithm="HS256")
        verify = api_a.post("/api/auth/token/verify/", {"token": late_token})
        assert verify.status_code == HTTPStatus.UNAUTHORIZED
