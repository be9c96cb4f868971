"""TOTP codes (RFC 6238, pyotp) and recovery codes: made, shown and checked; no I/O.

Codes are 6 digits of 30-second steps, SHA-1 (what every authenticator app
reads from an ``otpauth://`` URI). A code is accepted one step either side of
now (a clock a little off, a code typed as it changed), and the step it
matched is returned so that the caller can accept each step once.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import time

import pyotp
import segno
from pyotp.utils import strings_equal

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1
RECOVERY_CODE_COUNT = 10
# Crockford's base32 (no I, L, O, U): 16 symbols are 80 random bits, and a
# code read aloud or typed by hand has no 0/O or 1/I/L to confuse.
_RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RECOVERY_LENGTH = 16
_RECOVERY_GROUP = 4


def new_secret() -> str:
    """160 random bits in base32, the size RFC 4226 recommends."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The URI as a QR code: a standalone SVG document (with its namespace, so it
    can be shown through an ``<img>``), no script, no external reference."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, border=4, xmldecl=False)
    return out.getvalue().decode()


def matching_step(secret: str, code: str, *, at: float | None = None) -> int | None:
    """The 30-second step whose code ``code`` is, within the window; None if none.

    Every step of the window is compared, in constant time, whatever matched.
    """
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now_step = totp.timecode(time.time() if at is None else at)
    matched = None
    for step in range(now_step - WINDOW, now_step + WINDOW + 1):
        if strings_equal(code, totp.generate_otp(step)) and matched is None:
            matched = step
    return matched


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """``count`` codes like ``7K2M-9QXD-4HPT-0BNA``."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        groups = [raw[i : i + _RECOVERY_GROUP] for i in range(0, _RECOVERY_LENGTH, _RECOVERY_GROUP)]
        codes.append("-".join(groups))
    return codes


def recovery_code_hash(user_id: int, code: str) -> str:
    """What is stored: SHA-256 of the owner and the code as typed, give or take
    case, dashes and spaces (80 random bits need no slow hash)."""
    normal = "".join(code.split()).replace("-", "").upper()
    return hashlib.sha256(f"{user_id}:{normal}".encode()).hexdigest()


def sealed_place(user_id: int) -> bytes:
    """Associated data of a sealed TOTP secret: it opens only in its owner's row."""
    return f"totp-secret:{user_id}".encode()
