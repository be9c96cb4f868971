"""The seed's validation rules, as the workers' schemas apply them."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import Schema, ValidationError, fields

from common.accounts.schemas import (
    ChangePasswordParams,
    LoginParams,
    ProfileParams,
    RegisterParams,
    SessionParams,
    Text,
)

GOOD = {"username": "ada_lovelace", "email": "ada@example.com", "password": "engine1843"}


def errors_of(schema: Schema, data: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as caught:
        schema.load(data)
    messages = caught.value.messages
    assert isinstance(messages, dict)
    return messages


def test_register_loads_good_params() -> None:
    assert RegisterParams().load(GOOD) == GOOD


@pytest.mark.parametrize("username", ["abc", "A_1", "x" * 50, "UPPER_lower_123", "___"])
def test_register_accepts_usernames(username: str) -> None:
    assert RegisterParams().load({**GOOD, "username": username})["username"] == username


@pytest.mark.parametrize(
    "username",
    ["ab", "x" * 51, "has space", "dash-ed", "dot.ted", "émile", "semi;colon", "", "\nada"],
)
def test_register_refuses_usernames(username: str) -> None:
    assert "username" in errors_of(RegisterParams(), {**GOOD, "username": username})


@pytest.mark.parametrize("username", ["ada\n", "x" * 50 + "\n"])
def test_register_refuses_a_trailing_newline_in_usernames(username: str) -> None:
    assert "username" in errors_of(RegisterParams(), {**GOOD, "username": username})


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada@Example.COM  ", "ada@example.com"),
        ("\tMIXED.case+tag@Sub.Example.org\n", "mixed.case+tag@sub.example.org"),
    ],
)
def test_register_strips_and_lowercases_email(given: str, stored: str) -> None:
    assert RegisterParams().load({**GOOD, "email": given})["email"] == stored


def _email_of_length(length: int) -> str:
    domain = "@example.com"
    return "a" * (length - len(domain)) + domain


def test_register_accepts_a_100_character_email() -> None:
    email = _email_of_length(100)

    assert len(email) == 100
    assert RegisterParams().load({**GOOD, "email": email})["email"] == email


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "ada@", "@example.com", "ada example@x.com", "", _email_of_length(101)],
)
def test_register_refuses_emails(email: str) -> None:
    assert "email" in errors_of(RegisterParams(), {**GOOD, "email": email})


@pytest.mark.parametrize(
    "password",
    ["abcdefg1", "1234567a", "pass word 1", "ünïcødé9", "a1" * 36, "🔒" * 17 + "a1"],
)
def test_register_accepts_passwords(password: str) -> None:
    assert RegisterParams().load({**GOOD, "password": password})["password"] == password


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("abc123", "at least 8 characters"),
        ("abcdefgh", "one letter and one digit"),
        ("12345678", "one letter and one digit"),
        ("a1" * 36 + "x", "at most 72 bytes"),
        # 30 characters, 120 bytes: short enough by count, too long for bcrypt.
        ("🔒" * 28 + "a1", "at most 72 bytes"),
        ("é" * 36 + "a1", "at most 72 bytes"),
    ],
)
def test_register_refuses_passwords(password: str, problem: str) -> None:
    problems = errors_of(RegisterParams(), {**GOOD, "password": password})["password"]

    assert any(problem in message for message in problems)


def test_a_30_character_emoji_password_fails_on_bytes_only() -> None:
    password = "🔒" * 28 + "a1"
    assert len(password) == 30

    problems = errors_of(RegisterParams(), {**GOOD, "password": password})["password"]

    assert problems == ["Must be at most 72 bytes in UTF-8."]


@pytest.mark.parametrize("missing", ["username", "email", "password"])
def test_register_requires_every_field(missing: str) -> None:
    data = {key: value for key, value in GOOD.items() if key != missing}

    assert errors_of(RegisterParams(), data) == {missing: ["Missing data for required field."]}


@pytest.mark.parametrize("field", ["username", "email", "password"])
def test_register_refuses_non_strings(field: str) -> None:
    assert field in errors_of(RegisterParams(), {**GOOD, field: 12345678})


def test_unknown_fields_are_excluded() -> None:
    loaded = RegisterParams().load({**GOOD, "is_admin": True, "id": 1})

    assert loaded == GOOD


@pytest.mark.parametrize(
    ("data", "login"),
    [
        ({"username": "ada", "password": "x"}, "ada"),
        ({"username": "ada@example.com", "password": "x"}, "ada@example.com"),
        ({"email": "ada@example.com", "password": "x"}, "ada@example.com"),
        ({"username": "  ada  ", "password": "x"}, "ada"),
        ({"username": "ada", "email": "other@example.com", "password": "x"}, "ada"),
    ],
)
def test_login_by_username_or_email(data: dict[str, str], login: str) -> None:
    assert LoginParams().load(data) == {"login": login, "password": "x"}


def test_login_keeps_the_password_as_given() -> None:
    # Login compares, it does not re-apply the registration rules.
    loaded = LoginParams().load({"username": "ada", "password": " short "})

    assert loaded["password"] == " short "


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"password": "x"}, "username"),
        ({"username": "", "password": "x"}, "username"),
        ({"username": "ada"}, "password"),
        ({"username": "ada", "password": ""}, "password"),
        ({"username": "a" * 101, "password": "x"}, "username"),
        ({"username": "ada", "password": "x" * 1025}, "password"),
        ({"username": ["ada"], "password": "x"}, "username"),
    ],
)
def test_login_refuses(data: dict[str, Any], field: str) -> None:
    assert field in errors_of(LoginParams(), data)


def test_login_excludes_unknown_fields() -> None:
    loaded = LoginParams().load({"username": "ada", "password": "x", "remember": True})

    assert loaded == {"login": "ada", "password": "x"}


CHANGE = {"user_id": 1, "session_id": 2, "currentPassword": "oldpass1", "newPassword": "newpass2"}


def test_change_password_loads_good_params() -> None:
    assert ChangePasswordParams().load(CHANGE) == CHANGE


def test_change_password_must_differ() -> None:
    errors = errors_of(ChangePasswordParams(), {**CHANGE, "newPassword": "oldpass1"})

    assert errors == {"newPassword": ["Must differ from the current password."]}


@pytest.mark.parametrize("new", ["short1", "onlyletters", "123456789", "🔒" * 28 + "a1"])
def test_change_password_applies_the_password_rules_to_the_new_one(new: str) -> None:
    assert "newPassword" in errors_of(ChangePasswordParams(), {**CHANGE, "newPassword": new})


def test_change_password_does_not_apply_the_rules_to_the_current_one() -> None:
    # An account may predate the rules; its owner must still be able to move on.
    loaded = ChangePasswordParams().load({**CHANGE, "currentPassword": "weak"})

    assert loaded["currentPassword"] == "weak"


@pytest.mark.parametrize("missing", ["user_id", "session_id", "currentPassword", "newPassword"])
def test_change_password_requires_every_field(missing: str) -> None:
    data = {key: value for key, value in CHANGE.items() if key != missing}

    assert missing in errors_of(ChangePasswordParams(), data)


@pytest.mark.parametrize("schema", [ProfileParams, ChangePasswordParams])
@pytest.mark.parametrize("field", ["user_id", "session_id"])
@pytest.mark.parametrize("value", ["1", 1.5, True, None, [1]])
def test_ids_are_strict_integers(schema: type[Schema], field: str, value: Any) -> None:
    assert field in errors_of(schema(), {**CHANGE, field: value})


def test_profile_params_load_integers() -> None:
    assert ProfileParams().load({"user_id": 7, "session_id": 9, "extra": 1}) == {
        "user_id": 7,
        "session_id": 9,
    }


@pytest.mark.parametrize("value", ["3", 3.0, False])
def test_session_params_strict_integer(value: Any) -> None:
    assert "session_id" in errors_of(SessionParams(), {"session_id": value})


def test_session_params_load_an_integer() -> None:
    assert SessionParams().load({"session_id": 3}) == {"session_id": 3}


@pytest.mark.parametrize("schema", [RegisterParams, LoginParams, ChangePasswordParams])
@pytest.mark.parametrize("data", [None, [], "text", 5])
def test_non_object_params_are_refused(schema: type[Schema], data: Any) -> None:
    with pytest.raises(ValidationError):
        schema().load(data)


UNSTORABLE = ["\x00", "\x01", "\t", "\n", "\x1b", "\x7f", "\x85", "\ud800"]
TEXT_FIELDS = [
    (RegisterParams, GOOD, "username"),
    (RegisterParams, GOOD, "email"),
    (RegisterParams, GOOD, "password"),
    (LoginParams, {"username": "ada", "password": "engine1843"}, "username"),
    (LoginParams, {"email": "ada@example.com", "password": "engine1843"}, "email"),
    (LoginParams, {"username": "ada", "password": "engine1843"}, "password"),
    (
        ChangePasswordParams,
        {"user_id": 1, "session_id": 2, "currentPassword": "old12345", "newPassword": "new12345"},
        "currentPassword",
    ),
    (
        ChangePasswordParams,
        {"user_id": 1, "session_id": 2, "currentPassword": "old12345", "newPassword": "new12345"},
        "newPassword",
    ),
]


@pytest.mark.parametrize("character", UNSTORABLE, ids=[f"U+{ord(c):04X}" for c in UNSTORABLE])
@pytest.mark.parametrize(("schema", "good", "field"), TEXT_FIELDS)
def test_control_characters_are_refused_in_every_text_field(
    schema: type[Schema], good: dict[str, Any], field: str, character: str
) -> None:
    value = good[field]
    # Inside the value: surrounding whitespace of an email is stripped, not refused.
    bad = value[:3] + character + value[3:]
    assert (
        "Must not contain control characters." in errors_of(schema(), {**good, field: bad})[field]
    )


def test_every_string_field_of_every_schema_is_text() -> None:
    """So a field added later refuses control characters too."""
    import common.accounts.schemas as module

    schemas = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Schema) and value is not Schema
    ]
    assert len(schemas) >= 5
    for schema in schemas:
        for name, field in schema().fields.items():
            if isinstance(field, fields.String):
                assert isinstance(field, Text), f"{schema.__name__}.{name} is not Text"
