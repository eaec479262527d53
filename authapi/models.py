"""The user of a schema: platform staff in public, a client's users in each tenant schema."""

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower

__all__ = ["ApiToken", "Role", "Session", "User"]


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


class Session(models.Model):
    """One login (SPEC §7): every token pair issued from it carries its id as `sid`."""

    class EndReason(models.TextChoices):
        LOGOUT = "logout", "Logged out"
        LOGOUT_ALL = "logout_all", "Logged out everywhere"
        ENDED = "ended", "Ended by its user"
        REUSE = "refresh_reuse", "Refresh token reused"
        REVOKED = "revoked", "Revoked in the admin"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        DEACTIVATED = "user_deactivated", "User deactivated"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_sessions")
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, choices=EndReason.choices, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # The jti of the newest refresh token: what an admin's revocation of that token ends.
    refresh_jti = models.CharField(max_length=255, blank=True, db_index=True)

    class Meta:
        verbose_name = "login session"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="authapi_session_user_idx"),
            models.Index(fields=["expires_at"], name="authapi_session_expires_idx"),
            # The purge's second pass: ended sessions, oldest first (few of all rows).
            models.Index(
                fields=["ended_at"],
                condition=models.Q(ended_at__isnull=False),
                name="authapi_session_ended_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} of {self.user_id}"


class ApiToken(models.Model):
    """A static API key (`Authorization: Token tat_…`, SPEC §7) of one user of this schema.

    Only the key's SHA-256 is kept (`digest`): the key is shown once, when it is made. The key
    is 32 random bytes, so a plain digest is as good as a slow hash here and costs a microsecond
    per request. `prefix` (the first characters) lets its owner tell keys apart in a list.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=80, unique=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="authapi_apitoken_user_idx"),
            models.Index(fields=["expires_at"], name="authapi_apitoken_expires_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
