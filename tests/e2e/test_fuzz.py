"""Property-based fuzzing of the live gateway (hypothesis).

Whatever JSON a field of any body-reading route holds (any type, any depth,
any text: control characters and lone surrogates included) and whatever a
header says, the
answer is a 2xx or a 4xx in the documented shape, within a second; and a
client calling at the same time is not disturbed. Bounded in examples so the
whole module takes seconds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.helpers import ERROR_KEYS, PASSWORD, SAFE_REQUEST_ID
from tests.e2e.stack import Stack

ANSWER_SECONDS = 1.0
BODY_LIMIT = 64 * 1024

FUZZ = settings(
    max_examples=60,
    deadline=None,  # time is asserted per request, against the 1 s rule
    database=None,  # nothing written under the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Every code point, lone surrogates and control characters included; the
# troublesome ones and the characters of names and addresses made frequent.
# (A list joined, not st.text: st.text merges its alphabet into one range and
# the rare characters would stay rare.)
ANY_TEXT = st.lists(
    st.sampled_from(["\x00", "\x1b", "\x7f", "\x85", "\ud800", "\udfff", "\u2028"])
    | st.sampled_from("abc_XYZ019@.-+ ")
    | st.characters(codec=None, categories=None),
    max_size=80,
).map("".join)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT
)


def _deep(levels: int) -> Any:
    value: Any = "x"
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(ANY_TEXT.filter(lambda t: len(t) < 20), children, max_size=4)
    ),
    max_leaves=25,
) | st.integers(min_value=1, max_value=400).map(_deep)

# A field's value: text most often (where validation and storage meet), else anything.
FIELD_VALUES = ANY_TEXT | JSON_SCALARS | JSON_VALUES

# What h11 lets a client send in a header value: no CR, LF, NUL or DEL, no
# whitespace at either end.
HEADER_VALUES = st.binary(max_size=200).map(
    lambda raw: bytes(b for b in raw if b == 9 or 32 <= b != 127).strip()
)

# Every route that reads a JSON body, with a valid value for each of its fields
# (the fuzzing replaces some of them). Deleting the account takes a wrong
# password, so that the fuzzed account outlives the first example.
ROUTE_FIELDS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/users/register"): {
        "username": "fuzz_user",
        "email": "fuzz_user@example.com",
        "password": PASSWORD,
    },
    ("POST", "/api/auth/login"): {
        "username": "fuzz_user",
        "email": "fuzz_user@example.com",
        "password": PASSWORD,
    },
    ("PUT", "/api/auth/change-password"): {
        "currentPassword": PASSWORD,
        "newPassword": "fuzzed-Passw0rd",
    },
    ("POST", "/api/auth/refresh"): {"refresh_token": "r" * 43},
    ("POST", "/api/auth/forgot-password"): {"email": "fuzz_user@example.com"},
    ("POST", "/api/auth/reset-password"): {"token": "t" * 43, "newPassword": "fuzzed-Passw0rd"},
    ("PATCH", "/api/users/profile"): {"username": "fuzz_user", "email": "fuzz_user@example.com"},
    ("DELETE", "/api/users/profile"): {"password": "not-the-passw0rd"},
    # Second factors: wrong passwords and codes, so that nothing turns on or off.
    ("POST", "/api/auth/mfa/totp"): {"password": "not-the-passw0rd"},
    ("POST", "/api/auth/mfa/totp/confirm"): {"code": "123456", "mfa_token": "m" * 43},
    ("DELETE", "/api/auth/mfa/totp"): {"password": "not-the-passw0rd", "code": "123456"},
    ("POST", "/api/auth/mfa/recovery-codes"): {"password": "not-the-passw0rd"},
    ("POST", "/api/auth/mfa/verify"): {"mfa_token": "m" * 43, "code": "123456"},
}


def encode(body: Any) -> bytes:
    """JSON as a client may write it: ``\\udxxx`` escapes for lone surrogates."""
    return json.dumps(body, ensure_ascii=True).encode()


def assert_answer(answer: httpx.Response, elapsed: float) -> None:
    assert elapsed < ANSWER_SECONDS, f"{elapsed:.2f}s for {answer.request.url}"
    assert 200 <= answer.status_code < 300 or 400 <= answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        body = answer.json()
        assert set(body) == ERROR_KEYS, body
        assert body["success"] is False
        assert set(body["error"]) == {"code", "message", "details"}, body
        assert isinstance(body["error"]["details"], dict)
        assert SAFE_REQUEST_ID.fullmatch(body["request_id"])
        assert answer.headers["x-request-id"] == body["request_id"]


def timed(http: httpx.Client, method: str, path: str, **kwargs: Any) -> None:
    started = time.monotonic()
    answer = http.request(method, path, **kwargs)
    assert_answer(answer, time.monotonic() - started)


class Bystander:
    """Another client calling the profile route while the fuzzing runs."""

    def __init__(self, url: str, token: str) -> None:
        self._url = url
        self._token = token
        self._stop = threading.Event()
        self.answers: list[tuple[int, float]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Bystander:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(base_url=self._url, timeout=10) as http:
            while not self._stop.is_set():
                started = time.monotonic()
                answer = http.get(
                    "/api/users/profile", headers={"Authorization": f"Bearer {self._token}"}
                )
                self.answers.append((answer.status_code, time.monotonic() - started))
                time.sleep(0.02)

    def assert_undisturbed(self) -> None:
        assert self.answers, "the bystander made no call"
        assert {status for status, _ in self.answers} == {200}, self.answers
        assert max(seconds for _, seconds in self.answers) < ANSWER_SECONDS


def account(http: httpx.Client, name: str) -> str:
    created = http.post(
        "/api/users/register",
        json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    answer = http.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    return str(answer.json()["token"])


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        yield client


@pytest.fixture
def bystander(
    stack: Stack, http: httpx.Client, unique: Callable[[str], str]
) -> Iterator[Bystander]:
    with Bystander(stack.url, account(http, unique("bystander"))) as watching:
        yield watching
    watching.assert_undisturbed()


@pytest.fixture
def fuzz_token(http: httpx.Client, unique: Callable[[str], str]) -> str:
    return account(http, unique("fuzzed"))


@pytest.mark.parametrize(("method", "path"), list(ROUTE_FIELDS), ids=lambda v: str(v))
@FUZZ
@given(data=st.data())
def test_any_json_in_any_field(
    http: httpx.Client,
    bystander: Bystander,
    fuzz_token: str,
    method: str,
    path: str,
    data: st.DataObject,
) -> None:
    body = dict(ROUTE_FIELDS[(method, path)])
    for name in data.draw(st.sets(st.sampled_from(sorted(body)), min_size=1)):
        body[name] = data.draw(FIELD_VALUES, label=name)
    content = encode(body)
    if len(content) > BODY_LIMIT:
        return
    timed(
        http,
        method,
        path,
        content=content,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {fuzz_token}"},
    )


@pytest.mark.parametrize(("method", "path"), list(ROUTE_FIELDS), ids=lambda v: str(v))
@FUZZ
@given(body=JSON_VALUES)
def test_any_json_as_the_whole_body(
    http: httpx.Client, bystander: Bystander, method: str, path: str, body: Any
) -> None:
    content = encode(body)
    if len(content) <= BODY_LIMIT:
        timed(http, method, path, content=content, headers={"Content-Type": "application/json"})


@FUZZ
@given(
    headers=st.dictionaries(
        st.sampled_from(
            ["Authorization", "X-Request-ID", "Content-Type", "Origin", "Accept", "Cookie", "Host"]
        ),
        HEADER_VALUES,
        min_size=1,
    ),
    route=st.sampled_from(
        [
            ("GET", "/api/users/profile"),
            ("POST", "/api/auth/login"),
            ("POST", "/api/auth/logout"),
            ("GET", "/api/auth/sessions"),
            ("GET", "/health"),
        ]
    ),
)
def test_any_header_values(
    http: httpx.Client,
    bystander: Bystander,
    headers: dict[str, bytes],
    route: tuple[str, str],
) -> None:
    method, path = route
    content = encode({"username": "fuzz_user", "password": PASSWORD}) if method == "POST" else None
    timed(http, method, path, content=content, headers=headers)
