"""Signing key pairs, one or more per client, in the public schema (SPEC §9). Data only."""

from django.db import models

from tenants.models import Client

__all__ = ["SigningKey"]


class SigningKey(models.Model):
    """A client's key pair. `current` signs; `previous` keys only verify, until every token they
    signed has expired (`verify_until`); `retired` keys verify nothing and keep no private part.
    The private key is stored encrypted (signing.crypto), never in clear."""

    class State(models.TextChoices):
        CURRENT = "current", "Current (signs)"
        PREVIOUS = "previous", "Previous (verifies until its tokens expire)"
        RETIRED = "retired", "Retired"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="signing_keys")
    kid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=8)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CURRENT)
    public_jwk = models.JSONField()
    private_key_encrypted = models.BinaryField(editable=False)
    created_at = models.DateTimeField()
    verify_until = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one signing key per client, whatever races.
            models.UniqueConstraint(
                fields=["client"],
                condition=models.Q(state="current"),
                name="signing_one_current_key_per_client",
            ),
        ]
        indexes = [models.Index(fields=["client", "state"], name="signing_client_state_idx")]

    def __str__(self) -> str:
        return f"{self.kid} ({self.state})"
