"""pytest plugin (`-p tests.embedded_servers` in pyproject.toml): the test session's servers.

Before pytest-django reads the settings, point DATABASE_URL and REDIS_URL at the embedded
PostgreSQL and Redis under TENANTAUTH_DATA_DIR (a throwaway folder that `make test` makes) unless
they are given, and give the run a SECRET_KEY. Settings themselves never start anything.
"""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # Importing `core` loads the Celery app, which defaults DJANGO_SETTINGS_MODULE to the
    # production settings: name the test settings of pyproject.toml first.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", early_config.getini("DJANGO_SETTINGS_MODULE"))
    from core import embedded

    os.environ.update(embedded.environment(embedded.data_dir()))
