"""`GET /.well-known/jwks.json` on every client's host (SPEC §9): the public keys that verify
its tokens, for downstream services (PyJWT's PyJWKClient, jose's createRemoteJWKSet, gateways).
Any origin may read it (tenants.origins); in HS256 mode there is none (404)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from ninja import Router

from core.errors import NotFound
from signing.keyring import keyring_for
from tenants.requests import TenantRequest

__all__ = ["router"]

router = Router(tags=["keys"])


@router.get(
    "/.well-known/jwks.json",
    summary="The client's public signing keys (JWKS)",
    openapi_extra={
        "security": [],
        # Ninja keys responses by int status: a str key would be a second "200" in the JSON.
        "responses": {
            200: {
                "description": '`{"keys": [...]}`: kid, kty, alg, use and public parameters',
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            404: {"description": "Unknown host, or HS256 mode (no key pairs)"},
        },
    },
)
def jwks(request: TenantRequest) -> HttpResponse:
    if settings.JWT_ALGORITHM == "HS256":
        raise NotFound("No key pairs: this deployment signs with a shared secret (HS256)")
    response = HttpResponse(keyring_for(request.tenant).jwks_json, content_type="application/json")
    response["Cache-Control"] = "public, max-age=300"
    return response
