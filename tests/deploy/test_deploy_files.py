"""The deploy files parse, and every variable they use is documented in deploy/.env.example."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

from core.settings.secret_rules import PUBLISHED_SAMPLES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def documented() -> set[str]:
    names = set()
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def test_compose_parses_with_the_services_of_the_stack():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(compose["services"])
    assert compose["services"]["migrate"]["command"] == ["deploy/migrate.sh"]
    assert compose["services"]["beat"]["deploy"]["replicas"] == 1


def test_k8s_manifests_parse_and_have_the_required_objects():
    kinds = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        kinds += [
            (d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(path.read_text()) if d
        ]
    assert ("Deployment", "tenantauth-web") in kinds
    assert ("Service", "tenantauth-web") in kinds
    assert ("HorizontalPodAutoscaler", "tenantauth-web") in kinds
    assert ("Deployment", "tenantauth-worker") in kinds
    assert ("Job", "tenantauth-migrate") in kinds
    assert ("ConfigMap", "tenantauth-config") in kinds and ("Secret", "tenantauth-secret") in kinds
    beat = next(
        d
        for p in (DEPLOY / "k8s").glob("*.yaml")
        for d in yaml.safe_load_all(p.read_text())
        if d and d["metadata"]["name"] == "tenantauth-beat"
    )
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"


def test_every_variable_compose_k8s_and_the_app_use_is_in_env_example():
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (DEPLOY / "compose.yaml").read_text()))
    for path in (DEPLOY / "k8s").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] in ("ConfigMap", "Secret"):
                used |= set((doc.get("data") or {}) | (doc.get("stringData") or {}))
    for source in [
        *(ROOT / "core" / "settings").glob("*.py"),
        DEPLOY / "gunicorn.conf.py",
        *DEPLOY.glob("*.sh"),
    ]:
        text = source.read_text()
        used |= set(re.findall(r'env(?:_bool|_int|_list|_seconds)?\("([A-Z][A-Z0-9_]*)"', text))
        used |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z][A-Z0-9_]*)"', text))
        used |= set(re.findall(r"os\.environ\.get\('([A-Z][A-Z0-9_]*)'", text))
        used |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    internal = {"TENANTAUTH_DATA_DIR"}  # development/test only: where embedded servers keep data
    missing = used - documented() - internal
    assert not missing, f"undocumented in deploy/.env.example: {sorted(missing)}"


def _documented_environment(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DEBUG"))}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            env[match.group(1)] = match.group(2)
    # Keep the real servers of this test run (settings import connects to nothing).
    env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    env["REDIS_URL"] = os.environ["REDIS_URL"]
    env.update(overrides)
    return env


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_check_deploy_is_clean_with_the_documented_environment_and_a_key_of_ones_own():
    result = _check_deploy(
        _documented_environment(
            SECRET_KEY=secrets.token_urlsafe(50),
            KEY_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        )
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_start_up_refuses_a_key_pair_algorithm_without_a_key_encryption_key_or_a_bad_one():
    missing = _check_deploy(_documented_environment(SECRET_KEY=secrets.token_urlsafe(50)))
    assert missing.returncode != 0 and "KEY_ENCRYPTION_KEY is required" in missing.stderr
    bad = _check_deploy(
        _documented_environment(SECRET_KEY=secrets.token_urlsafe(50), KEY_ENCRYPTION_KEY="nope")
    )
    assert bad.returncode != 0 and "KEY_ENCRYPTION_KEY" in bad.stderr
    legacy = _check_deploy(
        _documented_environment(SECRET_KEY=secrets.token_urlsafe(50), JWT_ALGORITHM="HS256")
    )
    assert legacy.returncode == 0, legacy.stderr
    unknown = _check_deploy(
        _documented_environment(SECRET_KEY=secrets.token_urlsafe(50), JWT_ALGORITHM="none")
    )
    assert unknown.returncode != 0 and "JWT_ALGORITHM" in unknown.stderr


def _sample_values(name: str) -> list[str]:
    """Every value the deploy files suggest for `name` (.env.example and the k8s Secret)."""
    values = []
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.startswith(f"{name}="):
            values.append(line.partition("=")[2])
    for path in (DEPLOY / "k8s").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "Secret" and name in doc.get("stringData", {}):
                values.append(str(doc["stringData"][name]))
    return values


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SIGNING_KEY"])
def test_check_deploy_fails_on_the_sample_keys_of_the_deploy_files(name):
    values = _sample_values(name)
    assert values, f"{name} is not in the deploy files"
    if name == "JWT_SIGNING_KEY":
        values = [v for v in values if v]  # empty is documented: "sign with SECRET_KEY"
    for value in {*values, *PUBLISHED_SAMPLES, "x" * 60, "short-but-Varied-1"}:
        overrides = {name: value}
        if name == "JWT_SIGNING_KEY":
            overrides["SECRET_KEY"] = secrets.token_urlsafe(50)
        result = _check_deploy(_documented_environment(**overrides))
        assert result.returncode != 0, f"{name}={value!r} passed check --deploy"
        assert name in result.stderr, result.stderr


def test_the_image_copies_every_package_of_the_project():
    """No container engine runs here, so check the Dockerfile against pyproject's packages."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile, package
        assert f"COPY --chown=app:app {package} ./{package}" in dockerfile, package


def test_the_proxy_appends_the_client_address_and_the_app_trusts_only_the_proxy():
    """SPEC §10: the client IP is the address the trusted proxy appended to X-Forwarded-For."""
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in nginx
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert "TRUSTED_PROXIES" in compose["x-app"]["environment"]
    config = next(
        doc
        for doc in yaml.safe_load_all((DEPLOY / "k8s" / "config.yaml").read_text())
        if doc and doc["kind"] == "ConfigMap"
    )
    assert config["data"]["TRUSTED_PROXIES"]
    from core.clientip import parse_networks

    parse_networks(config["data"]["TRUSTED_PROXIES"].split(","))  # valid CIDRs


def test_start_up_refuses_a_login_limit_below_one():
    for name in ("LOGIN_HASH_CONCURRENCY", "LOGIN_MAX_FAILURES"):
        result = _check_deploy(
            _documented_environment(
                SECRET_KEY=secrets.token_urlsafe(50),
                KEY_ENCRYPTION_KEY=Fernet.generate_key().decode(),
                **{name: "0"},
            )
        )
        assert result.returncode != 0 and f"{name} must be at least 1" in result.stderr
