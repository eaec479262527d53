"""URLs on a tenant host: the JSON API and the tenant's session side (login, admin)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from core.admin_sites import tenant_admin_site
from core.api import api
from core.login_views import ProtectedLoginView

urlpatterns = [
    path("admin/", tenant_admin_site.urls),
    path("login/", ProtectedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", api.urls),
]
