"""Downstream services verify a live access token with nothing but the client's JWKS URL and
issuer: a Node service with `jose` (createRemoteJWKSet), where another client's JWKS does not
verify it, and the README's Python and Node examples, run as written with the live issuer."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from http import HTTPStatus
from pathlib import Path

import pytest

from tenants.models import Domain
from tests.browser.live import JS, ROOT, api_server

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
                pair = json.loads(response.read())
            access = pair["access"]
            python_example = _run_readme_python(base, pair)
            node_example = _run_readme_node(node, base, pair)
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
    assert python_example == {"access": "Acme Corp", "refresh": "refused"}
    assert node_example == {"access": "Acme Corp", "refresh": "refused"}


def _readme_block(after: str, language: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"```{language}\n", text.index(after)) + len(language) + 4
    return text[start : text.index("```", start)]


def _run_readme_python(issuer: str, pair: dict[str, str]) -> dict[str, str]:
    code = _readme_block("Python (`pip install", "python").replace(
        '"https://acme.example.com"', repr(issuer)
    )
    namespace: dict[str, object] = {}
    exec(code, namespace)
    verify = namespace["verify"]
    assert callable(verify)
    result = {"access": verify(pair["access"])["client_name"]}
    try:
        verify(pair["refresh"])
        result["refresh"] = "accepted"
    except Exception:
        result["refresh"] = "refused"
    return result


def _run_readme_node(node: str, issuer: str, pair: dict[str, str]) -> dict[str, str]:
    code = _readme_block("Node (`npm install jose`)", "js").replace(
        '"https://acme.example.com"', json.dumps(issuer)
    )
    code += """
const [access, refresh] = process.argv.slice(2);
const result = { access: (await verify(access)).client_name };
result.refresh = await verify(refresh).then(() => "accepted", () => "refused");
console.log(JSON.stringify(result));
"""
    script = JS / "test" / ".readme-example.mjs"  # beside node_modules, where jose resolves
    script.write_text(code)
    try:
        done = subprocess.run(
            [node, str(script), pair["access"], pair["refresh"]],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        script.unlink()
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
