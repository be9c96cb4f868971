"""gateway_app/edge.py: the pieces of the request guard that need no server."""

from __future__ import annotations

import pytest

from gateway_app.edge import _JSON_MEDIA_TYPE


@pytest.mark.parametrize(
    "media",
    [
        "application/json",
        "Application/JSON",
        "application/vnd.api+json",
        "application/problem+json",
    ],
)
def test_json_media_types(media: str) -> None:
    assert _JSON_MEDIA_TYPE.fullmatch(media)


@pytest.mark.parametrize(
    "media",
    [
        "",
        "text/plain",
        "text/json",
        "application/jsonp",
        "application/json+evil",
        "application/+json",
    ],
)
def test_other_media_types(media: str) -> None:
    assert not _JSON_MEDIA_TYPE.fullmatch(media)
