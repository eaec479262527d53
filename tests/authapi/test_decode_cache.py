"""authapi.tokens.decode remembers verified access tokens; expiry, the token type and that the
key which verified it is still in use are checked every time."""

from datetime import timedelta

import pytest
import time_machine

from authapi import tokens
from signing.jws import jwt_encode

pytestmark = pytest.mark.django_db


def _access(client, lifetime=timedelta(minutes=5)) -> str:
    token = tokens.AccessToken()
    token.set_exp(lifetime=lifetime)
    token["user_id"] = 1
    return jwt_encode(token.payload, client)


def test_a_remembered_token_still_expires(tenant_a):
    raw = _access(tenant_a)
    assert tokens.decode(raw, tokens.AccessToken, tenant_a)["user_id"] == 1  # remembered
    with time_machine.travel(timedelta(minutes=6)), pytest.raises(tokens.TokenError):
        tokens.decode(raw, tokens.AccessToken, tenant_a)


def test_the_memo_forgets_a_token_when_it_expires(tenant_a):
    raw = _access(tenant_a, lifetime=timedelta(minutes=5))
    tokens.decode(raw, tokens.AccessToken, tenant_a)
    assert tokens._verified.get(raw) is not None
    with time_machine.travel(timedelta(minutes=5, seconds=1)):
        assert tokens._verified.get(raw) is None
    assert tokens._verified.get(raw) is None  # dropped, not merely hidden


def test_a_remembered_token_is_not_accepted_as_another_type(tenant_a):
    raw = _access(tenant_a)
    tokens.decode(raw, tokens.AccessToken, tenant_a)
    with pytest.raises(tokens.TokenError):
        tokens.decode(raw, tokens.ClientRefreshToken, tenant_a)


def test_a_tampered_copy_of_a_remembered_token_is_refused(tenant_a):
    raw = _access(tenant_a)
    tokens.decode(raw, tokens.AccessToken, tenant_a)
    header, payload, signature = raw.split(".")
    forged = ".".join(
        [header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")]
    )
    with pytest.raises(tokens.TokenError):
        tokens.decode(forged, tokens.AccessToken, tenant_a)


def test_callers_cannot_change_the_remembered_claims(tenant_a):
    raw = _access(tenant_a)
    tokens.decode(raw, tokens.AccessToken, tenant_a)["user_id"] = 999
    assert tokens.decode(raw, tokens.AccessToken, tenant_a)["user_id"] == 1


def test_refresh_tokens_are_never_remembered(tenant_a):
    refresh = tokens.ClientRefreshToken()
    refresh["user_id"] = 1
    raw = jwt_encode(refresh.payload, tenant_a)
    tokens.decode(raw, tokens.ClientRefreshToken, tenant_a)
    assert tokens._verified.get(raw) is None
    access = _access(tenant_a)
    tokens.decode(access, tokens.AccessToken, tenant_a)
    assert tokens._verified.get(access) is not None


def test_a_remembered_token_dies_with_its_retired_key(tenant_a):
    from signing.services import key_rotate

    raw = _access(tenant_a)
    tokens.decode(raw, tokens.AccessToken, tenant_a)
    key_rotate(client=tenant_a)  # the old key still verifies
    assert tokens.decode(raw, tokens.AccessToken, tenant_a)["user_id"] == 1
    key_rotate(client=tenant_a, retire_previous=True)
    with pytest.raises(tokens.TokenError):
        tokens.decode(raw, tokens.AccessToken, tenant_a)
