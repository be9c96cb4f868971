"""JWT access tokens: what verify() accepts and everything it refuses."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from common.errors import InvalidToken
from common.security.signing_keys import load_private_key, load_public_key
from common.security.tokens import ALGORITHM, AUDIENCE, ISSUER, TokenSigner, TokenVerifier
from tests.key_material import KeyPair, b64url, secret_kid

SECRET = "unit-test-secret-" + "k" * 60
SECRET_KID = secret_kid(SECRET)
OTHER_SECRET = "another-test-secret-" + "q" * 60
ASYMMETRIC = ["EdDSA", "RS256"]


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(SECRET, expires_in=3600)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "42",
        "sid": "7",
        "iat": now,
        "exp": now + 600,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": "token-id-1",
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def sign(
    payload: dict[str, Any], key: Any = SECRET, algorithm: str = "HS256", **header: Any
) -> str:
    """A token signed by PyJWT; ``kid`` defaults to the test secret's, None drops it."""
    headers = {"kid": SECRET_KID, **header}
    return jwt.encode(
        payload,
        key,
        algorithm=algorithm,
        headers={k: v for k, v in headers.items() if v is not None},
    )


def hs256_by_hand(payload: dict[str, Any], secret: bytes, **header: Any) -> str:
    """HS256 computed directly: PyJWT refuses to use a PEM key as an HMAC secret."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", **header}).encode())
    body = b64url(json.dumps(payload).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


def signer_for(pair: KeyPair, *previous: KeyPair) -> TokenSigner:
    return TokenSigner(
        load_private_key(str(pair.private_path), pair.algorithm, variable="TEST"),
        3600,
        previous=[load_public_key(str(p.public_path), variable="TEST") for p in previous],
    )


def test_issue_then_verify(signer: TokenSigner) -> None:
    token, expires = signer.issue(user_id=42, session_id=7, now=1_000_000_000)
    fresh, fresh_expires = signer.issue(user_id=42, session_id=7)

    assert expires == 1_000_000_000 + 3600
    verified = signer.verify(fresh)
    assert (verified.user_id, verified.session_id, verified.expires_at) == (42, 7, fresh_expires)
    assert verified.token_id == jwt.decode(fresh, options={"verify_signature": False})["jti"]
    assert isinstance(token, str)


def test_issued_token_carries_the_required_claims(signer: TokenSigner) -> None:
    token, expires = signer.issue(user_id=1, session_id=2)

    header = jwt.get_unverified_header(token)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == ALGORITHM == "HS256"
    assert header["kid"] == SECRET_KID
    jti = payload.pop("jti")
    assert payload == {
        "sub": "1",
        "sid": "2",
        "iat": expires - 3600,
        "exp": expires,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "roles": ["user"],
    }
    assert isinstance(jti, str)
    assert len(jti) >= 20


def test_roles_travel_in_the_token_and_always_hold_user(signer: TokenSigner) -> None:
    token, _ = signer.issue(user_id=1, session_id=2, roles=["admin", "user", "admin"])

    assert jwt.decode(token, options={"verify_signature": False})["roles"] == ["user", "admin"]
    claims = signer.verify(token)
    assert claims.roles == ("user", "admin")
    assert claims.has_role("admin")
    assert not claims.has_role("auditor")


def test_every_token_has_its_own_id(signer: TokenSigner) -> None:
    ids = {signer.verify(signer.issue(user_id=1, session_id=2)[0]).token_id for _ in range(50)}

    assert len(ids) == 50


def test_the_hmac_kid_is_a_thumbprint_not_the_secret(signer: TokenSigner) -> None:
    assert signer.kid == SECRET_KID
    assert SECRET not in signer.kid
    assert signer.kid != TokenSigner(OTHER_SECRET, 3600).kid


def test_an_expired_token_is_refused(signer: TokenSigner) -> None:
    token, _ = signer.issue(user_id=1, session_id=2, now=time.time() - 7200)

    with pytest.raises(InvalidToken, match="expired"):
        signer.verify(token)


def test_a_token_of_another_secret_is_refused(signer: TokenSigner) -> None:
    token, _ = TokenSigner(OTHER_SECRET, 3600).issue(user_id=1, session_id=2)

    with pytest.raises(InvalidToken, match="Invalid token"):
        signer.verify(token)


def test_a_token_of_another_secret_claiming_our_kid_is_refused(signer: TokenSigner) -> None:
    with pytest.raises(InvalidToken, match="Invalid token"):
        signer.verify(sign(claims(), OTHER_SECRET))


@pytest.mark.parametrize("kid", [None, "", "unknown-kid", 42, ["x"], {"k": "v"}])
def test_a_missing_or_unknown_kid_is_refused(signer: TokenSigner, kid: Any) -> None:
    header = {} if kid is None else {"kid": kid}

    with pytest.raises(InvalidToken, match="Invalid token"):
        signer.verify(hs256_by_hand(claims(), SECRET.encode(), **header))


def test_an_unsigned_token_is_refused(signer: TokenSigner) -> None:
    token = sign(claims(), None, algorithm="none")

    with pytest.raises(InvalidToken):
        signer.verify(token)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_another_algorithm_with_the_same_secret_is_refused(
    signer: TokenSigner, algorithm: str
) -> None:
    token = sign(claims(), SECRET, algorithm=algorithm)
    # The token itself is sound: only the key's one algorithm refuses it.
    decoded = jwt.decode(token, SECRET, algorithms=[algorithm], issuer=ISSUER, audience=AUDIENCE)
    assert decoded["sub"] == "42"

    with pytest.raises(InvalidToken):
        signer.verify(token)


def test_a_hand_made_token_with_every_claim_is_accepted(signer: TokenSigner) -> None:
    """The control for the refusals: PyJWT's and our hand-made HS256 both pass."""
    verified = signer.verify(sign(claims()))
    by_hand = signer.verify(hs256_by_hand(claims(), SECRET.encode(), kid=SECRET_KID))

    assert (verified.user_id, verified.session_id, verified.token_id) == (42, 7, "token-id-1")
    assert by_hand == verified


@pytest.mark.parametrize("missing", ["sub", "sid", "exp", "iat", "iss", "aud", "jti"])
def test_a_token_missing_a_required_claim_is_refused(signer: TokenSigner, missing: str) -> None:
    with pytest.raises(InvalidToken):
        signer.verify(sign(claims(**{missing: None})))


@pytest.mark.parametrize("issuer", ["someone-else", "", "Gatehouse"])
def test_a_token_of_another_issuer_is_refused(signer: TokenSigner, issuer: str) -> None:
    with pytest.raises(InvalidToken):
        signer.verify(sign(claims(iss=issuer)))


@pytest.mark.parametrize("audience", ["someone-else", "", "Gatehouse", ["other", "x"]])
def test_a_token_for_another_audience_is_refused(signer: TokenSigner, audience: Any) -> None:
    with pytest.raises(InvalidToken):
        signer.verify(sign(claims(aud=audience)))


def test_issuer_and_audience_are_settings() -> None:
    ours = TokenSigner(SECRET, 3600, issuer="https://id.example", audience="api.example")
    token, _ = ours.issue(user_id=1, session_id=2)

    assert ours.verify(token).user_id == 1
    payload = jwt.decode(token, options={"verify_signature": False})
    assert (payload["iss"], payload["aud"]) == ("https://id.example", "api.example")
    with pytest.raises(InvalidToken):
        TokenSigner(SECRET, 3600).verify(token)


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": "not-a-number"},
        {"sid": "seven"},
        {"sub": ["42"]},
        {"exp": "tomorrow"},
        {"iat": int(time.time()) + 3600},
        {"jti": 12345},
        {"jti": ""},
        {"roles": "admin"},
        {"roles": ["admin", 1]},
    ],
)
def test_a_token_with_malformed_claims_is_refused(
    signer: TokenSigner, overrides: dict[str, Any]
) -> None:
    with pytest.raises(InvalidToken):
        signer.verify(sign(claims(**overrides)))


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "a.b.c", "Bearer x", "eyJhbGciOiJIUzI1NiJ9..", "🔒.🔒.🔒"],
)
def test_garbage_is_refused(signer: TokenSigner, garbage: str) -> None:
    with pytest.raises(InvalidToken, match="Invalid token"):
        signer.verify(garbage)


def test_a_tampered_payload_is_refused(signer: TokenSigner) -> None:
    token, _ = signer.issue(user_id=1, session_id=2)
    header, _, signature = token.split(".")
    forged_payload = sign(claims(sub="1000")).split(".")[1]

    with pytest.raises(InvalidToken):
        signer.verify(f"{header}.{forged_payload}.{signature}")


# ----------------------------------------------------------------------------
# Key pairs: EdDSA and RS256


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_a_key_pair_signs_and_its_public_half_verifies(
    key_pair: Callable[..., KeyPair], algorithm: str
) -> None:
    pair = key_pair(algorithm)
    token, _ = signer_for(pair).issue(user_id=5, session_id=6)
    gateway = TokenVerifier([load_public_key(str(pair.public_path), variable="TEST")])

    assert jwt.get_unverified_header(token) == {"alg": algorithm, "kid": pair.kid, "typ": "JWT"}
    assert (gateway.verify(token).user_id, gateway.verify(token).session_id) == (5, 6)
    # And PyJWT alone, from the public key, agrees.
    decoded = jwt.decode(
        token, pair.private_key.public_key(), algorithms=[algorithm], audience=AUDIENCE
    )
    assert decoded["sub"] == "5"


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_hs256_signed_with_the_public_key_is_refused(
    key_pair: Callable[..., KeyPair], algorithm: str
) -> None:
    """Algorithm confusion: the public key used as an HMAC secret, with the key's kid."""
    pair = key_pair(algorithm)
    gateway = TokenVerifier([load_public_key(str(pair.public_path), variable="TEST")])

    for secret in (pair.public_pem, pair.public_pem.strip()):
        with pytest.raises(InvalidToken, match="Invalid token"):
            gateway.verify(hs256_by_hand(claims(), secret, kid=pair.kid))


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_alg_none_with_the_keys_kid_is_refused(
    key_pair: Callable[..., KeyPair], algorithm: str
) -> None:
    pair = key_pair(algorithm)
    gateway = signer_for(pair).verifier

    with pytest.raises(InvalidToken):
        gateway.verify(sign(claims(), None, algorithm="none", kid=pair.kid))


@pytest.mark.parametrize("algorithm", ["PS256", "RS512", "RS384"])
def test_our_rsa_key_with_another_rsa_algorithm_is_refused(
    key_pair: Callable[..., KeyPair], algorithm: str
) -> None:
    """A genuine signature by our own key, under an algorithm the key is not for."""
    pair = key_pair("RS256")
    token = sign(claims(), pair.private_key, algorithm=algorithm, kid=pair.kid)
    public = pair.private_key.public_key()
    assert jwt.decode(token, public, algorithms=[algorithm], audience=AUDIENCE)["sub"] == "42"

    with pytest.raises(InvalidToken):
        signer_for(pair).verify(token)


def test_a_key_of_the_other_type_claiming_the_kid_is_refused(
    key_pair: Callable[..., KeyPair],
) -> None:
    """An RS256 token carrying the kid of our Ed25519 key: the key decides, EdDSA only."""
    ours, theirs = key_pair("EdDSA"), key_pair("RS256")
    forged = sign(claims(), theirs.private_key, algorithm="RS256", kid=ours.kid)

    with pytest.raises(InvalidToken):
        signer_for(ours).verify(forged)


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_a_stranger_key_is_refused_with_its_kid_or_ours(
    key_pair: Callable[..., KeyPair], algorithm: str
) -> None:
    ours, stranger = key_pair(algorithm), key_pair(algorithm)
    gateway = signer_for(ours).verifier

    for kid in (stranger.kid, ours.kid):
        with pytest.raises(InvalidToken):
            gateway.verify(sign(claims(), stranger.private_key, algorithm=algorithm, kid=kid))


def test_previous_keys_verify_until_removed(key_pair: Callable[..., KeyPair]) -> None:
    old, new = key_pair("EdDSA"), key_pair("RS256")
    old_token, _ = signer_for(old).issue(user_id=1, session_id=2)

    rotating = signer_for(new, old)
    assert rotating.verify(old_token).user_id == 1
    assert rotating.verify(rotating.issue(user_id=3, session_id=4)[0]).user_id == 3
    assert jwt.get_unverified_header(rotating.issue(user_id=3, session_id=4)[0])["kid"] == new.kid
    with pytest.raises(InvalidToken):
        signer_for(new).verify(old_token)


def test_jwks_lists_public_keys_only(key_pair: Callable[..., KeyPair]) -> None:
    current, previous = key_pair("EdDSA"), key_pair("RS256")
    jwks = signer_for(current, previous).verifier.jwks()

    assert [key["kid"] for key in jwks["keys"]] == [current.kid, previous.kid]
    for key, pair in zip(jwks["keys"], (current, previous), strict=True):
        assert key == {**pair.public_jwk, "kid": pair.kid, "alg": pair.algorithm, "use": "sig"}
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)


def test_jwks_of_a_shared_secret_is_empty(signer: TokenSigner) -> None:
    assert signer.verifier.jwks() == {"keys": []}
