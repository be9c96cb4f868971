"""py_webauthn's checks, off the event loop, with every refusal one of our errors.

The attestation and assertion are bytes from the client, parsed (CBOR, COSE
keys, certificates) and checked by py_webauthn. Parsing hostile input can
fail in more ways than the library wraps in its own exceptions, so any
exception there is a refusal of that input, never a 500; the log keeps its type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from loguru import logger
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from common import json_codec
from common.config import WebAuthnSettings

T = TypeVar("T")
KNOWN_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)


class Refused(Exception):
    """The response did not verify; ``reason`` is for the log and the audit trail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def descriptors(rows: list[Any]) -> list[PublicKeyCredentialDescriptor]:
    """Credential rows (credential_id, transports) as excludeCredentials / allowCredentials."""
    return [
        PublicKeyCredentialDescriptor(
            id=bytes(row["credential_id"]),
            transports=[
                AuthenticatorTransport(t) for t in row["transports"] if t in KNOWN_TRANSPORTS
            ],
        )
        for row in rows
    ]


def registration_options(
    settings: WebAuthnSettings,
    *,
    challenge: bytes,
    user_handle: bytes,
    user_name: str,
    existing: list[Any],
) -> dict[str, Any]:
    """``publicKey`` for navigator.credentials.create(): a discoverable credential
    (a passkey), the user verified, no attestation (nothing here checks the model)."""
    options = generate_registration_options(
        rp_id=settings.rp_id,
        rp_name=settings.rp_name,
        user_name=user_name,
        user_id=user_handle,
        user_display_name=user_name,
        challenge=challenge,
        timeout=round(settings.challenge_ttl * 1000),
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=descriptors(existing),
    )
    return _as_json(options)


def authentication_options(
    settings: WebAuthnSettings, *, challenge: bytes, allowed: list[Any]
) -> dict[str, Any]:
    """``publicKey`` for navigator.credentials.get(); no allowed credentials: any passkey."""
    options = generate_authentication_options(
        rp_id=settings.rp_id,
        challenge=challenge,
        timeout=round(settings.challenge_ttl * 1000),
        allow_credentials=descriptors(allowed),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return _as_json(options)


def _as_json(options: Any) -> dict[str, Any]:
    answer: dict[str, Any] = json_codec.loads(options_to_json(options))
    return answer


async def verify_registration(
    settings: WebAuthnSettings, credential: dict[str, Any], *, challenge: bytes
) -> VerifiedRegistration:
    def run() -> VerifiedRegistration:
        return verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=list(settings.origins),
            require_user_verification=True,
        )

    return await _checked(run, "attestation")


async def verify_assertion(
    settings: WebAuthnSettings, credential: dict[str, Any], *, challenge: bytes, public_key: bytes
) -> VerifiedAuthentication:
    """Signature, challenge, origin, RP ID and user verification; not the counter.

    The counter is compared by the caller, after the signature has verified:
    only a genuine signature with an old counter says "cloned authenticator".
    """

    def run() -> VerifiedAuthentication:
        return verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=list(settings.origins),
            credential_public_key=public_key,
            # 0 turns the library's counter check off; see the docstring.
            credential_current_sign_count=0,
            require_user_verification=True,
        )

    return await _checked(run, "assertion")


async def _checked(run: Callable[[], T], what: str) -> T:
    try:
        # CPU work (CBOR, signatures, certificate chains): on a thread, not the loop.
        return await asyncio.to_thread(run)
    except Exception as exc:  # hostile input through a parser: see the module doc
        logger.info("passkey {} refused: {}: {}", what, type(exc).__name__, exc)
        raise Refused(f"{what}: {type(exc).__name__}") from exc
