from django.apps import AppConfig


class AuthapiConfig(AppConfig):
    name = "authapi"
    verbose_name = "Accounts and tokens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from authapi import signals  # noqa: F401  (connects the user-status invalidation)
