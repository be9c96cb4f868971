"""JWT access tokens: what verify() accepts and everything it refuses."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from common.errors import InvalidToken
from common.security.tokens import ALGORITHM, ISSUER, TokenSigner

SECRET = "unit-test-secret-" + "k" * 60
OTHER_SECRET = "another-test-secret-" + "q" * 60


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
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def test_issue_then_verify(signer: TokenSigner) -> None:
    token, expires = signer.issue(user_id=42, session_id=7, now=1_000_000_000)
    fresh, fresh_expires = signer.issue(user_id=42, session_id=7)

    assert expires == 1_000_000_000 + 3600
    verified = signer.verify(fresh)
    assert (verified.user_id, verified.session_id, verified.expires_at) == (42, 7, fresh_expires)
    assert isinstance(token, str)


def test_issued_token_carries_the_required_claims(signer: TokenSigner) -> None:
    token, expires = signer.issue(user_id=1, session_id=2)

    header = jwt.get_unverified_header(token)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == ALGORITHM == "HS256"
    assert payload == {"sub": "1", "sid": "2", "iat": expires - 3600, "exp": expires, "iss": ISSUER}


def test_an_expired_token_is_refused(signer: TokenSigner) -> None:
    token, _ = signer.issue(user_id=1, session_id=2, now=time.time() - 7200)

    with pytest.raises(InvalidToken, match="expired"):
        signer.verify(token)


def test_a_token_of_another_secret_is_refused(signer: TokenSigner) -> None:
    token, _ = TokenSigner(OTHER_SECRET, 3600).issue(user_id=1, session_id=2)

    with pytest.raises(InvalidToken, match="Invalid token"):
        signer.verify(token)


def test_an_unsigned_token_is_refused(signer: TokenSigner) -> None:
    token = jwt.encode(claims(), None, algorithm="none")

    with pytest.raises(InvalidToken):
        signer.verify(token)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_another_algorithm_with_the_same_secret_is_refused(
    signer: TokenSigner, algorithm: str
) -> None:
    token = jwt.encode(claims(), SECRET, algorithm=algorithm)
    # The token itself is sound: only the algorithm list refuses it.
    assert jwt.decode(token, SECRET, algorithms=[algorithm], issuer=ISSUER)["sub"] == "42"

    with pytest.raises(InvalidToken):
        signer.verify(token)


def test_a_hand_made_token_with_every_claim_is_accepted(signer: TokenSigner) -> None:
    verified = signer.verify(jwt.encode(claims(), SECRET, algorithm="HS256"))

    assert (verified.user_id, verified.session_id) == (42, 7)


@pytest.mark.parametrize("missing", ["sub", "sid", "exp", "iat", "iss"])
def test_a_token_missing_a_required_claim_is_refused(signer: TokenSigner, missing: str) -> None:
    token = jwt.encode(claims(**{missing: None}), SECRET, algorithm="HS256")

    with pytest.raises(InvalidToken):
        signer.verify(token)


@pytest.mark.parametrize("issuer", ["someone-else", "", "Gatehouse"])
def test_a_token_of_another_issuer_is_refused(signer: TokenSigner, issuer: str) -> None:
    token = jwt.encode(claims(iss=issuer), SECRET, algorithm="HS256")

    with pytest.raises(InvalidToken):
        signer.verify(token)


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": "not-a-number"},
        {"sid": "seven"},
        {"sub": ["42"]},
        {"exp": "tomorrow"},
        {"iat": int(time.time()) + 3600},
    ],
)
def test_a_token_with_malformed_claims_is_refused(
    signer: TokenSigner, overrides: dict[str, Any]
) -> None:
    token = jwt.encode(claims(**overrides), SECRET, algorithm="HS256")

    with pytest.raises(InvalidToken):
        signer.verify(token)


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
    forged_payload = jwt.encode(claims(sub="1000"), SECRET, algorithm="HS256").split(".")[1]

    with pytest.raises(InvalidToken):
        signer.verify(f"{header}.{forged_payload}.{signature}")
