"""tenantauth with a fast (insecure) password hasher: login without the hashing cost.

Benchmark only: shows what a login costs outside the password hasher.
"""

from core.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
