"""Invalidate the host cache in every process when a Client or Domain changes."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tenants import hostcache
from tenants.models import Client, Domain


@receiver([post_save, post_delete], sender=Client)
@receiver([post_save, post_delete], sender=Domain)
def _invalidate_host_cache(**_: object) -> None:
    # Now, so this process and others stop trusting the old answer at once, and again after
    # commit, so no process re-caches a value read before the change became visible.
    hostcache.bump_generation()
    transaction.on_commit(hostcache.bump_generation)
