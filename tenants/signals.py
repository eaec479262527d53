"""Invalidate the host cache in every process when a Client or Domain changes."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tenants import hostcache
from tenants.models import Client, Domain


@receiver([post_save, post_delete], sender=Client)
@receiver([post_save, post_delete], sender=Domain)
def _invalidate_host_cache(**_: object) -> None:
    hostcache.invalidate()
