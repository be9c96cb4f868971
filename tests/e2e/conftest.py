"""End-to-end fixtures: stacks of real processes and an HTTP client for them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.conftest import RUN_ID, Servers, base_env
from tests.e2e.helpers import new_account
from tests.e2e.stack import Stack, full_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_factory(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Stack]]:
    """Empty stacks with their own prefix; every process is stopped afterwards."""
    made: list[Stack] = []

    def make(**env: str) -> Stack:
        prefix = f"ghe2e-{RUN_ID}-{uuid.uuid4().hex[:8]}"
        stack = Stack({**base_env(servers, prefix), **env}, tmp_path_factory.mktemp("logs"))
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.stop()
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            print(stack.dump_logs())


@contextmanager
def running_stack(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory, name: str, **env: str
) -> Iterator[Stack]:
    """A full stack named ``name`` for a session- or module-wide fixture, stopped after."""
    prefix = f"ghe2e-{RUN_ID}-{name}"
    shared = Stack({**base_env(servers, prefix), **env}, tmp_path_factory.mktemp(f"{name}-logs"))
    try:
        yield full_stack(shared)
    finally:
        shared.stop()


@pytest.fixture(scope="session")
def stack(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One gateway, one user and one auth worker, shared by the flow tests."""
    with running_stack(servers, tmp_path_factory, "shared") as shared:
        yield shared


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        yield http


@pytest.fixture
async def token(client: httpx.AsyncClient, unique: Callable[[str], str]) -> str:
    """The token of a new account on the shared stack."""
    _, issued = await new_account(client, unique("tok"))
    return issued


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
