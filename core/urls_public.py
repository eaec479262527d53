"""URLs on the public host: the platform's session side only (no tenant API here)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from core.admin_sites import platform_admin_site
from core.login_views import ProtectedLoginView

urlpatterns = [
    path("admin/", platform_admin_site.urls),
    path("login/", ProtectedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
