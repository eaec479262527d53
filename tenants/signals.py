"""Drop the cached answer for every host a change touches, in every process, after commit."""

from typing import Any

from django.db.models.signals import post_delete, post_init, post_save
from django.dispatch import receiver

from tenants import selectors
from tenants.models import Client, Domain


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
