from django.urls import path

from bench.peers.drf_tenants import api

urlpatterns = [
    path("api/hello", api.HelloView.as_view()),
    path("api/user/", api.UserView.as_view()),
    path("api/auth/token/", api.LoginView.as_view()),
    path("api/auth/token/refresh/", api.RefreshView.as_view()),
    path("api/auth/token/verify/", api.VerifyView.as_view()),
]
