"""Every process forgets a user's cached row when the user is saved or deleted."""

from django.db import connection
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from authapi import userstate
from authapi.models import User


@receiver([post_save, post_delete], sender=User)
def _user_changed(instance: User, **_: object) -> None:
    userstate.forget(schema_name=connection.schema_name, user_id=instance.pk)
