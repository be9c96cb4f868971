"""``gatehouse`` help: it exits 0 and lists only what each command accepts."""

from __future__ import annotations

import re

import pytest

from common.ops.cli import main


def help_of(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def short_options(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])-[a-zA-Z](?![\w-])", text))


def test_the_summary_of_up_lists_what_up_accepts(capsys: pytest.CaptureFixture[str]):
    summary = help_of(capsys)
    up_line = next(line for line in summary.splitlines() if line.startswith("gatehouse up"))
    accepted = short_options(help_of(capsys, "up")) - {"-h"}
    assert accepted == {"-c", "-p"}
    assert short_options(up_line) == accepted


@pytest.mark.parametrize("argument", ["--no-colour", "-f", "web"])
def test_up_refuses_what_it_does_not_accept(argument: str, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exited:
        main(["up", argument])
    assert exited.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err
