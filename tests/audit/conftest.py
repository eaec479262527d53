from tests.admin.test_onboarding import operator_http  # noqa: F401  (shared fixtures)
from tests.authapi.conftest import api_a, api_b, make_user  # noqa: F401
from tests.protection.conftest import limits  # noqa: F401
