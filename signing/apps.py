from django.apps import AppConfig


class SigningConfig(AppConfig):
    name = "signing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from signing import keyring  # noqa: F401  (connects the key-ring invalidation)
