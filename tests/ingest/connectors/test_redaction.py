"""redact: what a remote server echoes back never carries our tokens into results or logs."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from ingest.connectors.base import REDACTED, Secret, redact

from .fake_notion import TOKEN

ODD_TOKEN = "tok/with+odd&chars=0123456789"  # quoted and escaped forms differ from the token


@pytest.mark.parametrize(
    "echo",
    [
        f"Invalid header: Authorization: Bearer {TOKEN}",
        f'{{"headers": {{"authorization": "Bearer {TOKEN}"}}}}',
        f"token={quote(TOKEN, safe='')} rejected",
        f"request to https://api.example.com/?key={ODD_TOKEN} failed",
        f"request to https://api.example.com/?key={quote(ODD_TOKEN, safe='')} failed",
        json.dumps({"echo": ODD_TOKEN}),
        f"{TOKEN}{TOKEN}",
    ],
)
def test_known_tokens_are_removed_in_every_form(echo: str) -> None:
    cleaned = redact(echo, [Secret(TOKEN), Secret(ODD_TOKEN), None])
    assert TOKEN not in cleaned and ODD_TOKEN not in cleaned
    assert quote(ODD_TOKEN, safe="") not in cleaned and quote(TOKEN, safe="") not in cleaned
    assert REDACTED in cleaned


@pytest.mark.parametrize(
    ("echo", "secret"),
    [
        ("Authorization: Bearer unknown-token!value; next", "unknown-token!value"),
        ('{"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}', "dXNlcjpwYXNzd29yZA=="),
        ("bad token secret_AbCdEfGhIjKlMnOpQrStUv01 given", "secret_AbCdEfGhIjKlMnOpQrStUv01"),
        ("bad token ntn_12345678901234567890abcd given", "ntn_12345678901234567890abcd"),
        ("Google said ya29.a0AfB_byValue-0123456789 expired", "ya29.a0AfB_byValue-0123456789"),
    ],
)
def test_credentials_nobody_configured_are_removed_by_their_shape(echo: str, secret: str) -> None:
    cleaned = redact(echo)
    assert secret not in cleaned and REDACTED in cleaned


def test_ordinary_error_text_is_left_alone() -> None:
    for text in (
        "Notion refused the request (HTTP 400 validation_error): body.parent is invalid.",
        "Basic authentication is not supported here.",
        "The server answered HTTP 503; try again later.",
    ):
        assert redact(text, [Secret(TOKEN)]) == text
