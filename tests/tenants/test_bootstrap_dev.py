"""`make run`'s bootstrap prints working URLs."""

import io

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_bootstrap_prints_the_port_it_serves_on(public_tenant, monkeypatch):
    monkeypatch.setenv("PORT", "8765")
    out = io.StringIO()
    call_command("bootstrap_dev", stdout=out)  # rolled back with the test's transaction
    printed = out.getvalue()
    assert "http://localhost:8765/admin/" in printed
    assert "http://demo.localhost:8765/" in printed
    assert "PORT" not in printed
