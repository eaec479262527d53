"""Settings of the test run: production's, with a fast password hasher first.

Argon2 costs about 50 ms a hash by design; the suite hashes thousands of times. Argon2 stays in
the list, so hashes made with it still verify; tests that are about the hasher say so.
"""

from core.settings import *  # noqa: F403
from core.settings import PASSWORD_HASHERS

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]

# A remembered search_path that is wrong would read another tenant's rows: fail loudly instead.
HOTPATH_VERIFY_SEARCH_PATH = True

# Login protection counts per client IP in Redis, and every test request comes from 127.0.0.1:
# limits the suite cannot reach by accident. The tests of the protection set the real ones.
REGISTER_RATE = "100000/h"
LOGIN_MAX_FAILURES = 100_000
LOGIN_IP_MAX_FAILURES = 100_000
LOGIN_HASH_CONCURRENCY = 1_000
