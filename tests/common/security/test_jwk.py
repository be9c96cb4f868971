"""JWK export and RFC 7638 thumbprints, checked against the RFCs' own examples."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

from common.security.jwk import public_jwk, secret_jwk, thumbprint
from tests.key_material import KeyPair, rfc7638_thumbprint

# RFC 7638 section 3.1.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
    "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
    "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
    "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
# RFC 8037 appendix A.2 and A.3.
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def b64url_int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def test_rsa_key_matches_rfc7638_example() -> None:
    key = RSAPublicNumbers(65537, b64url_int(RFC7638_N)).public_key()

    jwk = public_jwk(key)
    assert jwk == {"kty": "RSA", "n": RFC7638_N, "e": "AQAB"}
    assert thumbprint(jwk) == RFC7638_THUMBPRINT


def test_ed25519_key_matches_rfc8037_example() -> None:
    raw = base64.urlsafe_b64decode(RFC8037_X + "=")
    key = Ed25519PublicKey.from_public_bytes(raw)

    jwk = public_jwk(key)
    assert jwk == {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}
    assert thumbprint(jwk) == RFC8037_THUMBPRINT


def test_thumbprint_ignores_members_it_does_not_cover() -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}

    assert thumbprint({**jwk, "kid": "x", "use": "sig", "alg": "EdDSA"}) == RFC8037_THUMBPRINT


@pytest.mark.parametrize("algorithm", ["EdDSA", "RS256"])
def test_our_export_agrees_with_pyjwt(key_pair: Callable[..., KeyPair], algorithm: str) -> None:
    pair = key_pair(algorithm)

    assert public_jwk(pair.private_key.public_key()) == pair.public_jwk
    assert thumbprint(pair.public_jwk) == rfc7638_thumbprint(pair.public_jwk) == pair.kid


def test_secret_thumbprint_is_stable_and_does_not_hold_the_secret() -> None:
    secret = b"a-shared-secret-" + b"z" * 32

    kid = thumbprint(secret_jwk(secret))
    assert kid == thumbprint(secret_jwk(secret))
    assert kid != thumbprint(secret_jwk(secret + b"!"))
    assert secret_jwk(secret)["k"] not in kid
    assert len(kid) == 43
