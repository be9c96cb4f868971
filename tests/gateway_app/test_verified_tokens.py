"""Verified tokens are remembered only for the same bytes and never past their exp."""

from __future__ import annotations

import time

import pytest

from common.errors import InvalidToken
from common.security.tokens import TokenClaims, TokenSigner
from gateway_app.verified_tokens import VerifiedTokens
from tests.conftest import TEST_JWT_SECRET


class CountingSigner(TokenSigner):
    """The signer's verifier, counting the signature checks it really makes."""

    checks = 0

    def verify(self, token: str) -> TokenClaims:
        CountingSigner.checks += 1
        return super().verify(token)


@pytest.fixture
def signer() -> CountingSigner:
    CountingSigner.checks = 0
    return CountingSigner(TEST_JWT_SECRET, 3600)


def test_the_same_token_is_checked_once(signer: CountingSigner) -> None:
    tokens = VerifiedTokens(signer)
    token, _ = signer.issue(user_id=1, session_id=2)

    first, second = tokens.verify(token), tokens.verify(token)

    assert first == second
    assert (first.user_id, first.session_id) == (1, 2)
    assert signer.checks == 1


def test_another_signature_is_never_a_hit(signer: CountingSigner) -> None:
    tokens = VerifiedTokens(signer)
    token, _ = signer.issue(user_id=1, session_id=2)
    tokens.verify(token)
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"

    with pytest.raises(InvalidToken):
        tokens.verify(forged)


def test_a_remembered_token_is_refused_once_it_expires(signer: CountingSigner) -> None:
    tokens = VerifiedTokens(signer)
    # Issued so that it expires two seconds from now.
    token, expires = signer.issue(user_id=1, session_id=2, now=time.time() - 3600 + 2)
    tokens.verify(token)

    time.sleep(max(0.0, expires - time.time()) + 0.05)

    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(token)
    assert len(tokens) == 0


def test_memory_is_bounded(signer: CountingSigner) -> None:
    tokens = VerifiedTokens(signer, capacity=3)
    issued = [signer.issue(user_id=n, session_id=n)[0] for n in range(5)]
    for token in issued:
        tokens.verify(token)

    assert len(tokens) == 3
    tokens.verify(issued[0])  # forgotten, so checked again
    assert signer.checks == 6
