"""The user of a schema: platform staff in public, a client's users in each tenant schema."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower

__all__ = ["Role", "User"]


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    STAFF = "staff", "Staff"
    ADMIN = "admin", "Admin"


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)

    class Meta:
        ordering = ["-date_joined", "-id"]
        constraints = [
            # Case-insensitive uniqueness enforced by the database, so two concurrent
            # registrations of "Alice" and "alice" cannot both succeed.
            models.UniqueConstraint(Lower("username"), name="authapi_user_username_ci_unique"),
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="authapi_user_email_ci_unique",
            ),
        ]
        indexes = [models.Index(fields=["-date_joined", "-id"], name="authapi_user_newest_idx")]
