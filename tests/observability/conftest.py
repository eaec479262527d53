"""Reading /metrics in the observability tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client as HttpClient
from prometheus_client.parser import text_string_to_metric_families

from tests.authapi.conftest import api_a, api_b, make_user  # noqa: F401  (shared fixtures)
from tests.conftest import host_client
from tests.protection.conftest import limits  # noqa: F401

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a /metrics answer: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def scrape(http: HttpClient | None = None) -> Samples:
    response = (http or host_client("localhost")).get("/metrics")
    assert response.status_code == 200, response.content
    return parse(response.content.decode())


@pytest.fixture
def metrics_delta() -> Callable[..., Callable[[], float]]:
    """`delta = metrics_delta(name, **labels)` now; `delta()` later: how much it grew."""

    def start(name: str, **labels: str) -> Callable[[], float]:
        before = value(scrape(), name, **labels)
        return lambda: value(scrape(), name, **labels) - before

    return start
