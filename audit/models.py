"""Audit events (SPEC §10): one table in every schema — a client's events in its own schema,
the platform's in public. Data only: events are written by audit.services.record."""

from django.db import models

__all__ = ["AuditEvent"]


class AuditEvent(models.Model):
    class Event(models.TextChoices):
        LOGIN_SUCCEEDED = "login_succeeded"
        LOGIN_FAILED = "login_failed"
        LOGIN_BLOCKED = "login_blocked"
        LOGIN_UNBLOCKED = "login_unblocked"
        REFRESH_REUSE_DETECTED = "refresh_reuse_detected"
        SESSION_ENDED = "session_ended"
        PASSWORD_CHANGED = "password_changed"
        USER_REGISTERED = "user_registered"
        ROLE_CHANGED = "role_changed"
        USER_DEACTIVATED = "user_deactivated"
        API_TOKEN_CREATED = "api_token_created"
        API_TOKEN_REVOKED = "api_token_revoked"
        SIGNING_KEY_ROTATED = "signing_key_rotated"
        # The platform's, in public.
        CLIENT_ONBOARDED = "client_onboarded"
        CLIENT_CHANGED = "client_changed"
        CLIENT_DEACTIVATED = "client_deactivated"

    at = models.DateTimeField(db_index=True)
    event = models.CharField(max_length=32, choices=Event.choices)
    # No foreign key: an event outlives the user it names.
    user_id = models.BigIntegerField(null=True, blank=True)
    username = models.CharField(max_length=254, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    session_id = models.UUIDField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["event", "-at"], name="audit_event_at_idx"),
            models.Index(fields=["user_id", "-at"], name="audit_user_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} at {self.at:%Y-%m-%d %H:%M:%S}"
