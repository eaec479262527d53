from tests.authapi.conftest import clean_tenant_tables, make_user  # noqa: F401  (shared fixtures)
