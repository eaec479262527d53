"""A downstream Node service verifies a live access token with `jose` (createRemoteJWKSet) and
nothing but the client's JWKS URL and issuer; another client's JWKS does not verify it."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from http import HTTPStatus
from pathlib import Path

import pytest

from tenants.models import Domain
from tests.browser.live import JS, api_server

pytestmark = pytest.mark.django_db(transaction=True)


def test_jose_verifies_a_live_token_with_the_jwks_url_and_issuer_only(
    tenant_a, tenant_b, api_b, clean_tenant_tables, tmp_path: Path
):
    node = shutil.which("node")
    assert node, "node is missing: .ci/run installs it"
    assert (JS / "node_modules" / "jose").exists(), "run `make js-test` (npm ci) first"
    # Node resolves no *.localhost names: the live server answers for acme on 127.0.0.1 too.
    Domain.objects.create(domain="127.0.0.1", tenant=tenant_a, is_primary=False)
    other_jwks = tmp_path / "globex-jwks.json"
    other_jwks.write_text(json.dumps(api_b.get("/.well-known/jwks.json").json()))
    try:
        with api_server(access_lifetime=300, workers=1) as port:
            base = f"http://127.0.0.1:{port}"
            # Registered through the server, whose password hasher the test settings do not use.
            request = urllib.request.Request(
                f"{base}/api/auth/register/",
                data=json.dumps(
                    {"username": "downstream", "email": "ds@acme.test", "password": "Jose-2026!"}
                ).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == HTTPStatus.CREATED
                access = json.loads(response.read())["access"]
            done = subprocess.run(
                [
                    node,
                    "test/verify-with-jose.mjs",
                    f"{base}/.well-known/jwks.json",
                    base,
                    access,
                    str(other_jwks),
                ],
                cwd=JS,
                capture_output=True,
                text=True,
                timeout=60,
            )
    finally:
        Domain.objects.filter(domain="127.0.0.1").delete()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "error" not in result["remote"], result
    assert result["remote"]["payload"]["client_name"] == "Acme Corp"
    assert result["remote"]["payload"]["iss"] == base  # DEBUG: the URL the login came to
    assert result["remote"]["protectedHeader"]["alg"] == "ES256"
    assert result["other"]["error"] == "ERR_JWKS_NO_MATCHING_KEY", result
