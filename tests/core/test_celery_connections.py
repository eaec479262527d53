"""core.celery's connection handling around tasks, in a process of its own (as a worker is),
on the test database: kept after a success, closed after anything else, untouched for eager
tasks."""

from __future__ import annotations

import pytest

from tests.conftest import run_in_another_process

CODE = """
from types import SimpleNamespace
from django.db import connection
from core import celery

# DB_CONN_MAX_AGE is 60, so a success keeps the connection.
worker_task = SimpleNamespace(request=SimpleNamespace(is_eager=False))
eager_task = SimpleNamespace(request=SimpleNamespace(is_eager=True))
for sender, state in [
    (worker_task, "SUCCESS"), (worker_task, "FAILURE"), (worker_task, "RETRY"),
    (eager_task, "FAILURE"),
]:
    connection.ensure_connection()
    celery._connections_before_task(sender=sender)
    celery._connections_after_task(sender=sender, state=state)
    print(state, sender.request.is_eager, connection.connection is not None)
"""


@pytest.mark.django_db
def test_a_worker_keeps_its_connection_after_a_success_and_drops_it_after_a_failure(
    monkeypatch,
):
    monkeypatch.setenv("DB_CONN_MAX_AGE", "60")
    lines = run_in_another_process(CODE).split("\n")
    assert [line for line in lines if line] == [
        "SUCCESS False True",
        "FAILURE False False",
        "RETRY False False",
        "FAILURE True True",
    ]
