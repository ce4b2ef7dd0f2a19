"""Non-XML 5xx bodies and other non-ClientError botocore errors end as AwsCallError."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from botocore.exceptions import NoCredentialsError
from botocore.parsers import ResponseParserError

from backupwatch import AwsCallError, Retrier


class Flaky:
    """Raises ``errors`` in turn (the last one for good if ``forever``), then succeeds."""

    def __init__(self, errors: Sequence[BaseException], *, forever: bool = False) -> None:
        self.errors = errors
        self.forever = forever
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= len(self.errors):
            raise self.errors[self.calls - 1]
        if self.forever:
            raise self.errors[-1]
        return "done"


def _no_sleep(_: float) -> None:
    """No test waits."""


def test_parser_error_is_retried_then_succeeds() -> None:
    """A proxy's HTML 5xx page is transient: retried like a 5xx."""
    fn = Flaky([ResponseParserError("Unable to parse response\n<html>502</html>")])
    assert Retrier(sleep=_no_sleep).call("s3:ListBucket", fn) == "done"
    assert fn.calls == 2


def test_parser_error_exhausted_is_aws_call_error() -> None:
    """Retries run out: AwsCallError with a one-line message, not ResponseParserError."""
    fn = Flaky([ResponseParserError("Unable to parse\n<html>502</html>")], forever=True)
    with pytest.raises(AwsCallError) as caught:
        Retrier(attempts=3, sleep=_no_sleep).call("s3:ListBucket", fn)
    assert (caught.value.code, caught.value.attempts) == ("ResponseParserError", 3)
    assert "<html>" not in caught.value.message


def test_no_credentials_is_final() -> None:
    """Missing credentials: AwsCallError after one attempt."""
    fn = Flaky([NoCredentialsError()], forever=True)
    with pytest.raises(AwsCallError) as caught:
        Retrier(sleep=_no_sleep).call("s3:ListBucket", fn)
    assert (caught.value.code, fn.calls) == ("NoCredentialsError", 1)
