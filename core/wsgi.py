import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
django.setup(set_prefix=False)

from core.hotpath.handlers import ApiWSGIHandler  # noqa: E402  (needs the settings loaded)

application = ApiWSGIHandler()
