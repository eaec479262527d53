"""Every process forgets a user's cached answer when the user is saved or deleted."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from authapi import selectors
from authapi.models import User


@receiver([post_save, post_delete], sender=User)
def _user_changed(instance: User, **_: Any) -> None:
    selectors.user_get_active.invalidate(user_id=instance.pk)
