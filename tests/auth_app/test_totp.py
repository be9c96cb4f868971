"""TOTP codes and recovery codes (auth_app/mfa/totp.py), with the clock given."""

from __future__ import annotations

import re

import pyotp

from auth_app.mfa.totp import (
    matching_step,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    recovery_code_hash,
)

AT = 1_800_000_015.0  # the middle of step 60000000


def test_a_code_matches_its_step_one_either_side_and_no_further() -> None:
    secret = new_secret()
    totp = pyotp.TOTP(secret)
    step = int(AT // 30)
    for offset in (-1, 0, 1):
        assert matching_step(secret, totp.at((step + offset) * 30), at=AT) == step + offset
    for offset in (-3, -2, 2, 3):
        assert matching_step(secret, totp.at((step + offset) * 30), at=AT) is None


def test_another_secret_s_code_does_not_match() -> None:
    mine, theirs = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
    assert matching_step(mine, pyotp.TOTP(theirs).at(AT), at=AT) is None


def test_secrets_are_160_bits_of_base32() -> None:
    assert re.fullmatch(r"[A-Z2-7]{32}", new_secret())


def test_the_uri_is_what_authenticator_apps_read() -> None:
    uri = provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", account="ada", issuer="Gatehouse")
    assert (
        uri
        == "otpauth://totp/Gatehouse:ada?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Gatehouse"
    )


def test_recovery_codes_are_ten_distinct_80_bit_codes() -> None:
    codes = new_recovery_codes()
    assert len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){3}[0-9A-HJKMNP-TV-Z]{4}", code), code


def test_a_recovery_code_hash_ignores_case_dashes_and_spaces_but_not_the_owner() -> None:
    code = "7K2M-9QXD-4HPT-0BNA"
    assert recovery_code_hash(1, code) == recovery_code_hash(1, " 7k2m9qxd 4hpt-0bna ")
    assert recovery_code_hash(1, code) != recovery_code_hash(2, code)
    assert recovery_code_hash(1, code) != recovery_code_hash(1, "7K2M-9QXD-4HPT-0BNB")
