"""The JSON text a worker hook receives, built in pieces for large values."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskstate.errors import TaskStateError
from taskstate.runtime import json_text
from taskstate.state.codec import encode_value

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=12)
        | st.dictionaries(st.text(max_size=5), children, max_size=12)
    ),
    max_leaves=60,
)


def _outcome(encode: Any, value: object) -> tuple[Any, ...]:
    try:
        return ("ok", encode(value))
    except TaskStateError as exc:
        return (type(exc).__name__, exc.message, exc.detail)


@settings(max_examples=300, deadline=None, database=None)
@given(value=_json_values | st.lists(_json_values, max_size=30))
def test_json_text_in_pieces_equals_the_whole_encoding(value: object) -> None:
    # Tiny pieces, so that every value above is cut up; errors must be the same too.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_text, "_PIECE", 7)
        patch.setattr(json_text, "_FIRST_ITEMS", 3)
        whole = _outcome(lambda v: encode_value(v, max_bytes=0).decode(), value)
        assert _outcome(json_text.json_text, value) == whole
