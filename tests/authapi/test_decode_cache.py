"""authapi.tokens.decode remembers verified token strings; expiry is still checked every time."""

from datetime import timedelta

import pytest
import time_machine

from authapi import tokens


def _access(lifetime=timedelta(minutes=5)) -> str:
    token = tokens.AccessToken()
    token.set_exp(lifetime=lifetime)
    token["user_id"] = 1
    return str(token)


def test_a_remembered_token_still_expires():
    raw = _access()
    assert tokens.decode(raw, tokens.AccessToken)["user_id"] == 1  # verified, remembered
    with time_machine.travel(timedelta(minutes=6)), pytest.raises(tokens.TokenError):
        tokens.decode(raw, tokens.AccessToken)


def test_a_remembered_token_is_not_accepted_as_another_type():
    raw = _access()
    tokens.decode(raw, tokens.AccessToken)
    with pytest.raises(tokens.TokenError):
        tokens.decode(raw, tokens.ClientRefreshToken)


def test_a_tampered_copy_of_a_remembered_token_is_refused():
    raw = _access()
    tokens.decode(raw, tokens.AccessToken)
    header, payload, signature = raw.split(".")
    forged = ".".join(
        [header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")]
    )
    with pytest.raises(tokens.TokenError):
        tokens.decode(forged, tokens.AccessToken)


def test_callers_cannot_change_the_remembered_claims():
    raw = _access()
    tokens.decode(raw, tokens.AccessToken)["user_id"] = 999
    assert tokens.decode(raw, tokens.AccessToken)["user_id"] == 1


def test_refresh_tokens_are_never_remembered():
    refresh = tokens.ClientRefreshToken()
    refresh["user_id"] = 1
    raw = str(refresh)
    tokens.decode(raw, tokens.ClientRefreshToken)
    assert tokens._verified.get(raw) is None
    access = _access()
    tokens.decode(access, tokens.AccessToken)
    assert tokens._verified.get(access) is not None
