"""The client IP (SPEC §10): X-Forwarded-For is believed only from a trusted proxy, read from
the right, and never further than the first address no trusted proxy vouches for."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from core.clientip import client_ip


@pytest.mark.parametrize(
    "trusted,peer,forwarded,expected",
    [
        ([], "198.51.100.1", "1.2.3.4", "198.51.100.1"),  # no proxies: the header is ignored
        (["10.0.0.0/8"], "198.51.100.1", "1.2.3.4", "198.51.100.1"),  # untrusted peer
        (["10.0.0.0/8"], "10.0.0.5", "1.2.3.4", "1.2.3.4"),
        (["10.0.0.0/8"], "10.0.0.5", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # forged left part
        (["10.0.0.0/8"], "10.0.0.5", "1.2.3.4, 10.9.9.9", "1.2.3.4"),  # two proxies of ours
        (["10.0.0.0/8"], "10.0.0.5", "", "10.0.0.5"),
        (["10.0.0.0/8"], "10.0.0.5", "garbage", "10.0.0.5"),
        (["10.0.0.0/8"], "10.0.0.5", "1.2.3.4, garbage", "10.0.0.5"),
        (["10.0.0.0/8", "::1/128"], "::1", "2001:db8::7", "2001:db8::7"),
        ([], "not-an-ip", "", None),
        # A long forged prefix cannot push the proxy's own entry out of view.
        (["10.0.0.0/8"], "10.0.0.5", ", ".join(["9.9.9.9"] * 80 + ["1.2.3.4"]), "1.2.3.4"),
    ],
)
def test_client_ip(settings, trusted, peer, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_a_bad_trusted_proxy_stops_start_up(monkeypatch):
    import importlib

    import core.settings.security as security

    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8,not-a-network")
    with pytest.raises(ImproperlyConfigured, match="not-a-network"):
        importlib.reload(security)
    monkeypatch.delenv("TRUSTED_PROXIES")
    importlib.reload(security)
