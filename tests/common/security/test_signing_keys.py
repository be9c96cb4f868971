"""Key files: loaded into a key with its one algorithm, or a ConfigError naming the variable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from common.config import ConfigError, Settings
from common.security.signing_keys import (
    current_verification_key,
    load_private_key,
    load_public_key,
    signing_key,
)
from common.security.tokens import TokenSigner, TokenVerifier
from tests.key_material import KeyPair

VARIABLE = "JWT_PRIVATE_KEY_FILE"


def key_settings(pair: KeyPair, **env: str) -> Settings:
    return Settings.from_env(
        {
            "JWT_ALGORITHM": pair.algorithm,
            "JWT_PRIVATE_KEY_FILE": str(pair.private_path),
            "JWT_PUBLIC_KEY_FILE": str(pair.public_path),
            **env,
        }
    )


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("algorithm", ["EdDSA", "RS256"])
def test_a_private_key_and_its_public_half_share_the_kid(
    key_pair: Callable[..., KeyPair], algorithm: str
) -> None:
    pair = key_pair(algorithm)

    private = load_private_key(str(pair.private_path), algorithm, variable=VARIABLE)
    public = load_public_key(str(pair.public_path), variable=VARIABLE)
    assert private.kid == public.kid == pair.kid
    assert private.algorithm == public.algorithm == algorithm


def test_an_unreadable_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"{VARIABLE} \(.*missing.pem\) cannot be read"):
        load_private_key(str(tmp_path / "missing.pem"), "EdDSA", variable=VARIABLE)


def test_a_file_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "junk.pem", b"not a key\n")

    with pytest.raises(ConfigError, match="is not a PEM private key"):
        load_private_key(path, "EdDSA", variable=VARIABLE)
    with pytest.raises(ConfigError, match="is not a PEM public key"):
        load_public_key(path, variable="JWT_PUBLIC_KEY_FILE")


def test_an_encrypted_private_key_is_refused(
    key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    pem = key_pair("EdDSA").private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )

    with pytest.raises(ConfigError, match="encrypted"):
        load_private_key(write(tmp_path / "enc.pem", pem), "EdDSA", variable=VARIABLE)


@pytest.mark.parametrize(("algorithm", "wrong"), [("EdDSA", "RS256"), ("RS256", "EdDSA")])
def test_a_private_key_of_the_wrong_type_is_refused(
    key_pair: Callable[..., KeyPair], algorithm: str, wrong: str
) -> None:
    path = str(key_pair(wrong).private_path)

    with pytest.raises(ConfigError, match=f"{VARIABLE}.*JWT_ALGORITHM={algorithm}"):
        load_private_key(path, algorithm, variable=VARIABLE)


def test_an_ec_key_is_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    with pytest.raises(ConfigError, match="not an Ed25519 private key"):
        load_private_key(write(tmp_path / "ec.pem", private), "EdDSA", variable=VARIABLE)
    with pytest.raises(ConfigError, match="neither an Ed25519 nor an RSA public key"):
        load_public_key(write(tmp_path / "ec.pub.pem", public), variable=VARIABLE)


def test_a_short_rsa_key_is_refused(key_pair: Callable[..., KeyPair]) -> None:
    pair = key_pair("RS256", rsa_bits=1024)

    with pytest.raises(ConfigError, match="at least 2048 bits"):
        load_private_key(str(pair.private_path), "RS256", variable=VARIABLE)
    with pytest.raises(ConfigError, match="at least 2048 bits"):
        load_public_key(str(pair.public_path), variable="JWT_PUBLIC_KEY_FILE")


def test_a_private_key_given_as_public_is_refused(key_pair: Callable[..., KeyPair]) -> None:
    with pytest.raises(ConfigError, match=r"JWT_PUBLIC_KEY_FILE .* holds a private key"):
        load_public_key(str(key_pair("EdDSA").private_path), variable="JWT_PUBLIC_KEY_FILE")


def test_signing_needs_the_private_key_file(key_pair: Callable[..., KeyPair]) -> None:
    gateway_only = Settings.from_env(
        {"JWT_ALGORITHM": "EdDSA", "JWT_PUBLIC_KEY_FILE": str(key_pair("EdDSA").public_path)}
    )

    with pytest.raises(ConfigError, match="JWT_PRIVATE_KEY_FILE is required"):
        TokenSigner.from_settings(gateway_only)
    assert TokenVerifier.from_settings(gateway_only).kids


def test_a_public_key_that_does_not_match_the_private_one_is_refused(
    key_pair: Callable[..., KeyPair],
) -> None:
    pair, other = key_pair("EdDSA"), key_pair("EdDSA")

    with pytest.raises(ConfigError, match="not the public half"):
        signing_key(key_settings(pair, JWT_PUBLIC_KEY_FILE=str(other.public_path)))


def test_a_public_key_of_another_algorithm_is_refused(key_pair: Callable[..., KeyPair]) -> None:
    pair, rsa = key_pair("EdDSA"), key_pair("RS256")

    with pytest.raises(ConfigError, match=r"JWT_PUBLIC_KEY_FILE .* JWT_ALGORITHM=EdDSA"):
        current_verification_key(key_settings(pair, JWT_PUBLIC_KEY_FILE=str(rsa.public_path)))


def test_the_gateway_derives_the_public_key_only_in_development(
    key_pair: Callable[..., KeyPair],
) -> None:
    pair = key_pair("RS256")
    env = {"JWT_ALGORITHM": "RS256", "JWT_PRIVATE_KEY_FILE": str(pair.private_path)}

    derived = current_verification_key(Settings.from_env(env))
    assert (derived.kid, derived.algorithm) == (pair.kid, "RS256")
    assert not hasattr(derived.key, "private_bytes")
    with pytest.raises(ConfigError, match="JWT_PUBLIC_KEY_FILE is required"):
        current_verification_key(Settings.from_env({**env, "APP_ENV": "production"}))


def test_the_verifier_holds_the_current_and_previous_public_keys(
    key_pair: Callable[..., KeyPair],
) -> None:
    pair, old_ed, old_rsa = key_pair("EdDSA"), key_pair("EdDSA"), key_pair("RS256")
    previous = f"{old_ed.public_path}, {old_rsa.public_path}"
    settings = key_settings(pair, JWT_PREVIOUS_PUBLIC_KEY_FILES=previous)

    verifier = TokenVerifier.from_settings(settings)
    assert verifier.kids == [pair.kid, old_ed.kid, old_rsa.kid]
    assert TokenSigner.from_settings(settings).verifier.kids == verifier.kids
    assert TokenSigner.from_settings(settings).kid == pair.kid


def test_an_unreadable_previous_key_names_its_variable(
    key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    settings = key_settings(
        key_pair("EdDSA"), JWT_PREVIOUS_PUBLIC_KEY_FILES=str(tmp_path / "gone.pem")
    )

    with pytest.raises(ConfigError, match=r"JWT_PREVIOUS_PUBLIC_KEY_FILES .* cannot be read"):
        TokenVerifier.from_settings(settings)
