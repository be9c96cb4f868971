"""The error hierarchy and its one status table stay in step."""

from __future__ import annotations

from common import errors


def test_every_error_class_has_a_status_and_round_trips() -> None:
    for code, cls in errors._BY_CODE.items():
        assert code in errors.HTTP_STATUS, f"{cls.__name__} has no line in HTTP_STATUS"
        rebuilt = errors.from_wire(cls("why", {"field": ["bad"]}).to_wire())
        assert type(rebuilt) is cls
        assert (rebuilt.message, rebuilt.details) == ("why", {"field": ["bad"]})


def test_a_new_subclass_is_found_without_being_listed() -> None:
    class Teapot(errors.GatehouseError):
        code = "teapot"

    assert errors._known_errors()["teapot"] is Teapot
