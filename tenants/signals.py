"""Drop the cached answer for every host a change touches, in every process, after commit; and
note a client's changes in the platform's audit trail (public schema)."""

from typing import Any

from django.db.models.signals import post_delete, post_init, post_save, pre_save
from django.dispatch import receiver
from django_tenants.utils import get_public_schema_name

from audit.services import Event, record
from core.tenancy import dangerously_in_schema
from tenants import selectors
from tenants.models import Client, Domain

_AUDITED = ("name", "is_active", "allowed_origins")


@receiver(pre_save, sender=Client)
def _client_before(instance: Client, **_: Any) -> None:
    # Read at save time (clients change rarely), not at every load: a Client is built for
    # every request from the host cache.
    instance._saved_state = (
        Client.objects.filter(pk=instance.pk).values_list(*_AUDITED).first()
        if instance.pk is not None
        else None
    )


@receiver(post_save, sender=Client)
def _client_audited(instance: Client, created: bool, **_: Any) -> None:
    loaded = getattr(instance, "_saved_state", None)
    instance._saved_state = None
    if created or loaded is None:
        return  # onboarding records its own event (onboarding.services)
    name, was_active, origins = loaded
    changed = [
        field
        for field, old, new in (
            ("name", name, instance.name),
            ("is_active", was_active, instance.is_active),
            ("allowed_origins", origins, list(instance.allowed_origins)),
        )
        if old != new
    ]
    if not changed:
        return
    event = (
        Event.CLIENT_DEACTIVATED if was_active and not instance.is_active else Event.CLIENT_CHANGED
    )
    with dangerously_in_schema(get_public_schema_name()):  # the platform's trail
        record(
            event,
            detail={"client_id": instance.pk, "schema": instance.schema_name, "changed": changed},
        )


@receiver(post_init, sender=Domain)
def _remember_loaded_host(instance: Domain, **_: Any) -> None:
    # A domain renamed in the admin must drop its old name too.
    instance._loaded_domain = instance.domain


@receiver([post_save, post_delete], sender=Domain)
def _domain_changed(instance: Domain, **_: Any) -> None:
    for host in {instance.domain, getattr(instance, "_loaded_domain", None)}:
        if host:
            selectors.client_get_by_host.invalidate(host=host)
    instance._loaded_domain = instance.domain


@receiver([post_save, post_delete], sender=Client)
def _client_changed(instance: Client, **_: Any) -> None:
    # On delete the domains are gone already (cascade first); their own signals dropped them.
    for host in selectors.client_domains(client_id=instance.pk):
        selectors.client_get_by_host.invalidate(host=host)
