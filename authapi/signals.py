"""Every process forgets a user's cached status when the user is deactivated or deleted."""

from typing import Any

from django.db import connection
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from authapi import userstate
from authapi.models import User


@receiver(post_save, sender=User)
def _user_saved(instance: User, update_fields: Any = None, **_: object) -> None:
    # Saves of other fields only (a login's last_login) cannot change the answer.
    if update_fields is None or "is_active" in update_fields:
        userstate.forget(schema_name=connection.schema_name, user_id=instance.pk)


@receiver(post_delete, sender=User)
def _user_deleted(instance: User, **_: object) -> None:
    userstate.forget(schema_name=connection.schema_name, user_id=instance.pk)
