"""The delay before a retry: constant, or growing as Airflow 3.3.2's ``next_retry_datetime``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from taskstate.runner.retry import (
    MAX_RETRY_DELAY_SECONDS,
    backoff_multiplier,
    retry_delay_seconds,
)


def test_without_backoff_the_delay_is_constant() -> None:
    for try_number in (1, 2, 5):
        assert retry_delay_seconds(timedelta(seconds=3), try_number=try_number) == 3.0
    assert retry_delay_seconds(timedelta(seconds=0.3), try_number=1) == 0.3
    # max_retry_delay caps only a backoff, as in Airflow.
    assert (
        retry_delay_seconds(
            timedelta(seconds=30), try_number=1, max_retry_delay=timedelta(seconds=5)
        )
        == 30.0
    )


@pytest.mark.parametrize(
    ("value", "factor"),
    [(True, 2.0), (False, 1.0), (None, 1.0), (0, 1.0), (1, 1.0), (5, 5.0), (2.5, 2.5), (-1, 1.0)],
)
def test_the_backoff_factor(value: bool | float | None, factor: float) -> None:
    assert backoff_multiplier(value) == factor


@pytest.mark.parametrize("try_number", [1, 2, 3, 4, 5])
def test_exponential_backoff_grows_with_a_jitter_of_up_to_one_base(try_number: int) -> None:
    base = 10 * 2 ** (try_number - 1)
    delay = retry_delay_seconds(
        timedelta(seconds=10), try_number=try_number, exponential_backoff=True, seed="d#r#t#-1"
    )
    assert base <= delay < 2 * base
    assert delay == int(delay)


def test_the_jitter_is_fixed_by_the_instance_and_try() -> None:
    def delay(seed: str, try_number: int = 3) -> float:
        return retry_delay_seconds(
            timedelta(seconds=60), try_number=try_number, exponential_backoff=True, seed=seed
        )

    assert delay("d#r#t#-1") == delay("d#r#t#-1")
    # Instances that failed together do not all come back at once.
    assert len({delay(f"d#r#t#{i}") for i in range(20)}) > 1


def test_a_zero_delay_with_backoff_waits_at_least_a_second() -> None:
    delay = retry_delay_seconds(timedelta(0), try_number=1, exponential_backoff=True, seed="x")
    assert delay == 1.0  # a base of 1 s, and a jitter below one base


def test_a_custom_factor() -> None:
    delay = retry_delay_seconds(timedelta(seconds=4), try_number=3, exponential_backoff=5, seed="x")
    assert 100 <= delay < 200


def test_the_delay_is_capped_at_max_retry_delay_then_a_day() -> None:
    capped = retry_delay_seconds(
        timedelta(seconds=10),
        try_number=10,
        exponential_backoff=True,
        max_retry_delay=timedelta(seconds=42),
        seed="x",
    )
    assert capped == 42.0
    huge = retry_delay_seconds(
        timedelta(hours=1), try_number=5000, exponential_backoff=True, seed="x"
    )
    assert huge == MAX_RETRY_DELAY_SECONDS
