from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "bench.peers.drf_tenants.clients"
    label = "peer_clients"
    default_auto_field = "django.db.models.BigAutoField"
