"""Django's debug error pages and error mails, without connection URLs.

Django already hides settings named like API, TOKEN, KEY, SECRET, PASS or SIGNATURE; our URLs
(DATABASE_URL, REDIS_URL, the Celery broker, the cache LOCATION) carry passwords too.
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

__all__ = ["ConnectionsHiddenFilter"]


class ConnectionsHiddenFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|LOCATION|HOST|DSN|BROKER|RESULT_BACKEND",
        flags=re.I,
    )
