"""S3 concurrency sized from the Lambda function's memory, unless the operator sets it.

Lambda sets ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``; the function's share of a vCPU follows it
(1 vCPU at 1,769 MB). Threads beyond what keeps that share busy only queue for the CPU
(docs/performance.md, "Threads and function memory"), so the default follows the memory.
"""

from __future__ import annotations

from typing import Any

import pytest

from backupwatch import ConfigurationError, load_settings
from backupwatch.core.config import s3_concurrency_for_memory

BASE = {"BACKUPWATCH_S3_BUCKET": "backups", "BACKUPWATCH_REGIONS": "us-east-1"}


def threads(**variables: str) -> Any:
    return load_settings({**BASE, **variables}).s3_concurrency


@pytest.mark.parametrize(
    ("memory", "expected"),
    [
        ("128", 8),
        ("512", 8),  # the template's digest function: 0.29 vCPU
        ("707", 8),
        ("708", 9),
        ("1024", 12),
        ("1769", 20),  # one full vCPU
        ("3538", 20),  # two: one interpreter lock still runs one thread at a time
        ("10240", 20),
    ],
)
def test_the_default_follows_the_functions_memory(memory: str, expected: int) -> None:
    assert threads(AWS_LAMBDA_FUNCTION_MEMORY_SIZE=memory) == expected


def test_outside_lambda_the_default_stays() -> None:
    assert threads() == 16


@pytest.mark.parametrize("memory", ["512", "10240"])
def test_the_operators_setting_wins(memory: str) -> None:
    assert threads(AWS_LAMBDA_FUNCTION_MEMORY_SIZE=memory, BACKUPWATCH_S3_CONCURRENCY="64") == 64
    explicit = load_settings({**BASE, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory}, s3_concurrency=3)
    assert explicit.s3_concurrency == 3


@pytest.mark.parametrize("memory", ["lots", "1.5", "64", "20000", "-512"])
def test_a_memory_size_lambda_would_never_set_is_named(memory: str) -> None:
    """Not ours to set, but read: a value Lambda never gives is an error naming it, never a
    silent guess at the threads."""
    with pytest.raises(ConfigurationError) as caught:
        threads(AWS_LAMBDA_FUNCTION_MEMORY_SIZE=memory)
    assert caught.value.variable == "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
    assert str(caught.value).startswith(f"AWS_LAMBDA_FUNCTION_MEMORY_SIZE={memory!r}")


def test_a_set_concurrency_does_not_read_the_memory_at_all() -> None:
    """With the threads set, the memory size is never consulted, so it cannot fail the run."""
    assert threads(AWS_LAMBDA_FUNCTION_MEMORY_SIZE="lots", BACKUPWATCH_S3_CONCURRENCY="4") == 4


def test_the_rule_never_leaves_its_bounds() -> None:
    counts = [s3_concurrency_for_memory(memory) for memory in range(128, 10_241)]
    assert min(counts) == 8
    assert max(counts) == 20
    assert counts == sorted(counts)  # more memory never means fewer threads
