"""Create the public tenant, a platform operator and the demo tenant, once. Used by `make run`."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from authapi.models import User
from authapi.services import user_create
from core import embedded
from onboarding.services import client_onboard
from signing.services import key_ensure
from tenants.models import Client

DEMO = {"name": "Demo Corp", "schema": "demo", "domain": "demo.localhost"}
# The Vite dev server's two usual origins (SPEC §8), and the example page of clients/js on a
# host of the demo's own site, where cookie mode's SameSite cookies are sent too.
DEMO_ORIGINS = ["http://localhost:5173", "http://127.0.0.1:5173", "http://app.demo.localhost:5173"]


def _password(name: str) -> str:
    """A password kept in the data folder, so every run can print it again."""
    path = embedded.data_dir() / f"{name}.password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


class Command(BaseCommand):
    help = "Create the public tenant, the platform operator and the demo tenant if missing."

    def handle(self, *args: Any, **options: Any) -> None:
        public_host = settings.PUBLIC_HOST
        call_command("ensure_public_tenant", stdout=self.stdout)
        operator_password = _password("operator")
        if not User.objects.filter(username="operator").exists():
            user_create(
                username="operator",
                email="operator@platform.localhost",
                password=operator_password,
                role="admin",
            )
        demo_password = _password("demo-admin")
        if not Client.objects.filter(schema_name=DEMO["schema"]).exists():
            client_onboard(
                name=DEMO["name"],
                schema_name=DEMO["schema"],
                domain=DEMO["domain"],
                admin_username="admin",
                admin_email="admin@demo.localhost",
                admin_password=demo_password,
                allowed_origins=DEMO_ORIGINS,
            )
        demo = Client.objects.get(schema_name=DEMO["schema"])
        missing = [o for o in DEMO_ORIGINS if o not in demo.allowed_origins]
        if missing:  # a demo made before origins existed
            demo.allowed_origins = [*demo.allowed_origins, *missing]
            demo.save(update_fields=["allowed_origins"])
        if settings.JWT_ALGORITHM != "HS256":
            key_ensure(demo)  # a demo made before key pairs: its JWKS is never empty
        port = os.environ.get("PORT") or "8000"  # the port `make run` serves on
        self.stdout.write(
            f"public admin   http://{public_host}:{port}/admin/  operator / {operator_password}\n"
            f"demo tenant    http://{DEMO['domain']}:{port}/     admin / {demo_password}\n"
        )
