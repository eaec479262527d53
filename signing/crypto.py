"""Key pairs and their protection at rest (SPEC §9), with `cryptography` and PyJWT's JWK export.

- A new pair: P-256 for ES256, 2048-bit RSA for RS256.
- `kid`: the key's RFC 7638 thumbprint (SHA-256 of its canonical public JWK), so a kid names
  exactly one public key.
- The private key is kept as PKCS#8 PEM encrypted with Fernet under KEY_ENCRYPTION_KEY, a list
  (MultiFernet): the first key encrypts, every key decrypts, so the encryption key itself can be
  rotated by putting a new one first (and `rotate_signing_key`, or re-encrypting, later).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

__all__ = [
    "KeyMaterial",
    "PrivateKey",
    "PublicKey",
    "key_pair_generate",
    "private_key_decrypt",
    "public_key_from_jwk",
]

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

# RFC 7638: the required members of each key type, in lexicographic order.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


@dataclass(frozen=True)
class KeyMaterial:
    kid: str
    algorithm: str
    public_jwk: dict[str, Any]
    private_key_encrypted: bytes


def _fernet() -> MultiFernet:
    keys = settings.KEY_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured(
            "KEY_ENCRYPTION_KEY is not set: it encrypts each client's private signing key"
        )
    return MultiFernet([Fernet(key) for key in keys])


def _thumbprint(jwk: dict[str, Any]) -> str:
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def key_pair_generate(algorithm: str) -> KeyMaterial:
    private: PrivateKey
    if algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        raise ValueError(f"no key pairs for {algorithm}")
    kid = _thumbprint(jwk)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = {**jwk, "kid": kid, "alg": algorithm, "use": "sig"}
    return KeyMaterial(kid, algorithm, public, _fernet().encrypt(pem))


def private_key_decrypt(encrypted: bytes) -> PrivateKey:
    try:
        pem = _fernet().decrypt(bytes(encrypted))
    except InvalidToken:
        raise ImproperlyConfigured(
            "a private signing key does not decrypt with any KEY_ENCRYPTION_KEY"
        ) from None
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ImproperlyConfigured("a stored signing key is neither EC nor RSA")
    return key


def public_key_from_jwk(jwk: dict[str, Any]) -> PublicKey:
    loader = ECAlgorithm if jwk["kty"] == "EC" else RSAAlgorithm
    key = loader.from_jwk(jwk)
    if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)):
        raise ValueError("not a public key")
    return key
