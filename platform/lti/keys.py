"""The tool's RSA key pair: made on first use, kept in the database, public half as JWKS."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import transaction
from jwcrypto.jwk import JWK

from lti.models import ToolKey


def _new_key() -> ToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    # The kid is the key's thumbprint: what pylti1p3 puts in the header of our token requests.
    public = JWK.from_pem(pem.encode()).export_public(as_dict=True)
    public.update({"alg": "RS256", "use": "sig"})
    return ToolKey(kid=public["kid"], private_key_pem=pem, public_jwk=public)


def public_pem(key: ToolKey) -> str:
    return JWK(**key.public_jwk).export_to_pem().decode()


def current_key() -> ToolKey:
    """The key the tool signs with (the newest), made on first use."""
    key = ToolKey.objects.first()
    if key is not None:
        return key
    with transaction.atomic():
        key = ToolKey.objects.select_for_update().first()
        if key is None:
            key = _new_key()
            key.save()
    return key


def jwks() -> dict[str, Any]:
    """Every public key (old ones too, until removed: tokens signed with them still check)."""
    current_key()
    return {"keys": [k.public_jwk for k in ToolKey.objects.all()]}
