"""The checks of what a database can hold: JSON escapes, query strings, text."""

from __future__ import annotations

import pytest

from taskstate.api.bounds import check_json_escapes, check_query
from taskstate.errors import InvalidValueError


@pytest.mark.parametrize(
    "body",
    [
        rb'{"value": "plain"}',
        rb'{"value": "\u00e9\u4e2d"}',
        rb'{"value": "\ud83d\ude00"}',  # a surrogate pair: one character
        rb'{"value": "\\u0000"}',  # an escaped backslash, then the text u0000
        rb'{"value": "\\\\\ud83d\ude00"}',
        b"",
    ],
)
def test_text_a_database_holds_passes(body: bytes) -> None:
    check_json_escapes(body)


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (rb'{"value": "\u0000"}', "NUL"),
        (rb'{"a\u0000": 1}', "NUL"),
        (rb'{"value": "\ud800"}', "lone surrogate"),
        (rb'{"value": "\udfff"}', "lone surrogate"),
        (rb'{"value": "\ud83dx"}', "lone surrogate"),
        (rb'{"value": "\ud83d\ud83d"}', "lone surrogate"),
        (rb'{"value": "\\\ud800"}', "lone surrogate"),
        (rb'["\uD800"]', "lone surrogate"),
    ],
)
def test_nul_and_lone_surrogate_escapes_are_refused(body: bytes, what: str) -> None:
    with pytest.raises(InvalidValueError, match=what):
        check_json_escapes(body)


def test_a_nul_in_a_query_string_is_refused() -> None:
    check_query(b"dag_id=a&name=%01")
    for query in (b"dag_id=a%00", b"name=\x00"):
        with pytest.raises(InvalidValueError, match="NUL"):
            check_query(query)
