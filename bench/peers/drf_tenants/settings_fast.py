"""The peer with a fast (insecure) password hasher: login without the hashing cost."""

from bench.peers.drf_tenants.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
