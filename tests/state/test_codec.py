import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskstate.errors import (
    InvalidIdentifierError,
    InvalidKeyError,
    InvalidValueError,
    ValueTooLargeError,
)
from taskstate.state.codec import (
    MAX_KEY_LENGTH,
    decode_value,
    encode_value,
    validate_dag_id,
    validate_encoded_value,
    validate_key,
    validate_run_id,
)

json_values = st.recursive(
    st.text()
    | st.integers(-(2**63), 2**63 - 1)
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_every_json_value_round_trips(value: object) -> None:
    assert decode_value(encode_value(value)) == value


@pytest.mark.parametrize("key", ["", "x" * (MAX_KEY_LENGTH + 1), "a\x00b", "tab\there", 5, None])
def test_bad_keys_are_refused(key: object) -> None:
    with pytest.raises(InvalidKeyError):
        validate_key(key)


@pytest.mark.parametrize("key", ["k", "a/b/../c", "ключ", "x" * MAX_KEY_LENGTH, "..", "%2F?#"])
def test_good_keys_pass(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (None, "None cannot be stored"),
        (math.nan, "not a JSON number"),
        ({"a": [1, math.inf]}, "at $.a[1]"),
        ({1: "x"}, "keys must be strings"),
        ({"when": object()}, "object is not JSON-serializable"),
        ({"s": {1, 2}}, "set is not JSON-serializable"),
    ],
)
def test_bad_values_are_refused_with_where(value: object, fragment: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        encode_value(value)
    assert fragment in str(caught.value)


def test_nested_null_is_a_value() -> None:
    assert decode_value(encode_value({"a": None})) == {"a": None}


def test_size_limit_names_the_setting() -> None:
    with pytest.raises(ValueTooLargeError, match="max_value_bytes") as caught:
        encode_value("x" * 100, max_bytes=50)
    assert caught.value.detail == {"size": 102, "limit": 50}


@pytest.mark.parametrize("data", [b"null", b"{", b"NaN", b"[1,]"])
def test_encoded_values_from_callers_are_checked(data: bytes) -> None:
    with pytest.raises(InvalidValueError):
        validate_encoded_value(data)


def test_identifiers() -> None:
    assert validate_dag_id("a.b-c_1") == "a.b-c_1"
    assert (
        validate_run_id("manual__2026-01-01T00:00:00+00:00") == "manual__2026-01-01T00:00:00+00:00"
    )
    for bad in ("", "a/b", "with space", "x" * 251):
        with pytest.raises(InvalidIdentifierError):
            validate_dag_id(bad)
    with pytest.raises(InvalidIdentifierError):
        validate_run_id("a/b")


def test_a_value_that_contains_itself_is_refused() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(InvalidValueError, match="contains itself"):
        encode_value(loop)
    deep: object = "leaf"
    for _ in range(300):
        deep = [deep]
    with pytest.raises(InvalidValueError, match="deeper than"):
        encode_value(deep)


@pytest.mark.parametrize("value", ["\ud83d", ["ok", {"k": "a\udc00b"}]])
def test_a_lone_surrogate_is_an_invalid_value(value: object) -> None:
    # json.loads on the command line and Python strings can hold one; UTF-8 cannot.
    with pytest.raises(InvalidValueError, match="cannot be encoded as JSON"):
        encode_value(value)
