"""Onboarding a client completely, or not at all: shared by the platform admin, `create_client`
and `make run`'s demo data."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audit.services import Event, record
from authapi import services as user_services
from authapi.models import Role
from core.errors import InvalidInput
from core.tenancy import dangerously_in_schema
from signing.services import key_ensure
from tenants import template
from tenants.models import Client, Domain
from tenants.origins import origins_clean
from tenants.schema_clone import CloneUnsupportedError, schema_clone
from tenants.services import domain_normalize, validate_domain_name, validate_schema_name

__all__ = ["client_onboard"]

log = logging.getLogger(__name__)


def client_onboard(
    *,
    name: str,
    schema_name: str,
    domain: str,
    admin_username: str,
    admin_email: str,
    admin_password: str,
    allowed_origins: list[str] | tuple[str, ...] = (),
) -> Client:
    """Create a client: its schema, primary domain and first admin, in one transaction.

    The schema is a copy of the tenant template (a migrated schema, rebuilt first if the
    migrations changed: tenants.template), which takes milliseconds where replaying every
    migration takes a second or more. PostgreSQL DDL is transactional, so a failure at any step
    leaves no schema, no domain and no client row behind (nor a half-rebuilt template). Invalid
    input raises InvalidInput naming the field. `allowed_origins`: the browser origins whose
    pages may call the client's API (SPEC §8; tenants.origins).
    """
    name = name.strip()
    schema_name = schema_name.strip().lower()
    domain = domain_normalize(domain)
    if not name:
        raise InvalidInput.field("name", "name is required")
    validate_schema_name(schema_name)
    validate_domain_name(domain)
    origins = origins_clean(list(allowed_origins))
    if not admin_username.strip():
        raise InvalidInput.field("admin_username", "admin username is required")
    try:
        validate_password(admin_password)
    except ValidationError as exc:
        raise InvalidInput.field("admin_password", " ".join(exc.messages)) from None

    try:
        with transaction.atomic():
            template.template_lock()
            source = template.template_ready()
            client = Client(name=name, schema_name=schema_name, allowed_origins=origins)
            client.full_clean(validate_unique=False)  # model rules before the schema exists
            client.save()
            try:
                schema_clone(source=source.schema, target=schema_name, description=source)
            except CloneUnsupportedError as exc:
                # Correct but slow: the template holds something a copy would not reproduce.
                log.warning("event=client_onboard_migrating schema=%s reason=%r", schema_name, exc)
                client.create_schema(check_if_exists=False, verbosity=0)
            Domain.objects.create(domain=domain, tenant=client, is_primary=True)
            if settings.JWT_ALGORITHM != "HS256":
                key_ensure(client)  # its own key pair, from the first token on (SPEC §9)
            record(  # the platform's trail: the connection is in public here
                Event.CLIENT_ONBOARDED,
                detail={"client_id": client.pk, "schema": schema_name, "domain": domain},
            )
            with dangerously_in_schema(schema_name):  # the new client's first user, in its schema
                user_services.user_create(
                    username=admin_username,
                    email=admin_email,
                    password=admin_password,
                    role=Role.ADMIN,
                )
    except IntegrityError as exc:
        # Lost a race with a concurrent onboarding of the same schema or domain.
        raise InvalidInput.field("schema_name", f"client could not be created: {exc}") from None
    except ValidationError as exc:
        raise InvalidInput(
            [{"field": f, "message": " ".join(m)} for f, m in exc.message_dict.items()]
        ) from None
    return client
