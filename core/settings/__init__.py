"""Settings, grouped by concern. The environment is read in `environment.py` only."""

from core.settings.base import *  # noqa: F403
from core.settings.celery import *  # noqa: F403
from core.settings.jwt import *  # noqa: F403
from core.settings.observability import *  # noqa: F403
from core.settings.security import *  # noqa: F403
from core.settings.tenants import *  # noqa: F403
