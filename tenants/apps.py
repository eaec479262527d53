from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled

        from tenants import signals  # noqa: F401  (connects the host-cache invalidation)
        from tenants.origins import origin_allowed

        check_request_enabled.connect(origin_allowed, dispatch_uid="tenants.origin_allowed")
