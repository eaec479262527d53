"""Metrics and request ids across processes: a real gunicorn and a real Celery worker sharing one
PROMETHEUS_MULTIPROC_DIR, as `make run` and a pod run them."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from authapi import tasks
from core.observability.context import reset_request_id, use_request_id
from tests.authapi.purge_support import running_worker
from tests.browser.live import api_server
from tests.observability.conftest import parse, value


def _metrics(port: int) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Host": "localhost"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["X-Request-ID"]
        return response.read().decode()


def _task_lines(log: Path) -> list[dict]:
    lines = []
    for text in log.read_text().splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


@pytest.mark.django_db
def test_a_celery_workers_metrics_and_the_request_id_it_was_enqueued_with(public_tenant, tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    with (
        api_server(access_lifetime=300, **shared) as port,
        running_worker(tmp_path / "worker.log", LOG_FORMAT="json", **shared) as log,
    ):
        before = value(parse(_metrics(port)), "tenantauth_purge_runs_total")
        token = use_request_id("enqueued-by-request-1234")
        try:
            with_id = tasks.purge_schema.delay("public")
        finally:
            reset_request_id(token)
        without_id = tasks.purge_schema.delay("public")
        try:
            with_id.get(timeout=90)
            without_id.get(timeout=90)
        except Exception:
            print(log.read_text())
            raise
        samples = parse(_metrics(port))
        # Only the worker purges: the web's /metrics adds up the worker's files.
        assert value(samples, "tenantauth_purge_runs_total") == before + 2
        assert value(samples, "tenantauth_http_requests_total", route="/healthz") >= 1
        assert any(p.name.startswith("counter_worker-") for p in metrics_dir.iterdir())
        assert any(p.name.startswith("counter_web-") for p in metrics_dir.iterdir())

    purged = [
        line
        for line in _task_lines(log)
        if line["logger"] == "authapi.tasks" and "event=tokens_purged" in line["message"]
    ]
    assert len(purged) == 2, log.read_text()[-3000:]
    ids = sorted(line["request_id"] for line in purged)
    assert "enqueued-by-request-1234" in ids
    (own,) = [i for i in ids if i != "enqueued-by-request-1234"]
    assert own != "-" and len(own) == 32  # enqueued outside a request: an id of its own
    # Celery's own lines about the task carry the id too.
    traced = [
        line
        for line in _task_lines(log)
        if line["request_id"] == "enqueued-by-request-1234" and line["logger"] != "authapi.tasks"
    ]
    assert traced, "no Celery line of the task carried the request id"


@pytest.fixture(autouse=True)
def _no_eager():
    from core.celery import app

    assert not app.conf.task_always_eager
