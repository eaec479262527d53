"""deploy/'s Prometheus config, alert rules and Grafana dashboard parse, and ask only for metrics
that /metrics has."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import host_client

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
_METRIC = re.compile(r"tenantauth_[a-z_]+")


def _exposed() -> set[str]:
    """Every series name /metrics can have, observed yet or not (from its TYPE lines)."""
    text = host_client("localhost").get("/metrics").content.decode()
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_{suffix}" for suffix in ("bucket", "count", "sum")}
    return names


@pytest.mark.django_db
def test_alert_rules_and_dashboard_use_only_exposed_metrics(public_tenant):
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    assert {r["alert"] for g in rules["groups"] for r in g["rules"]} >= {
        "TenantauthHighErrorRate",
        "TenantauthSlowRequests",
        "TenantauthRefreshReuseSpike",
        "TenantauthThrottledSpike",
        "TenantauthPurgeNotRunning",
    }
    dashboard = json.loads((DEPLOY / "grafana" / "tenantauth-dashboard.json").read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in _METRIC.findall(expr)}
    assert used and used <= _exposed(), used - _exposed()


def test_prometheus_scrapes_the_web_service_with_the_token():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert job["static_configs"][0]["targets"] == ["web:8000"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    prometheus = compose["services"]["prometheus"]
    assert "metrics_token" in prometheus["secrets"]
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    for role in ("web", "worker", "beat"):
        service = compose["services"][role]
        assert service["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/var/lib/tenantauth/metrics"
        assert "metrics:/var/lib/tenantauth/metrics" in service["volumes"]
