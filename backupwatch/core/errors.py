"""Exceptions raised by backupwatch.

One root, a small tree under it; catch the narrowest one that fits::

    BackupwatchError               anything backupwatch raises on purpose
    ├── ConfigurationError         a setting is invalid; raised before any AWS call
    ├── AwsCallError               an AWS call failed for good (not retryable, or retries exhausted)
    ├── PublishError               the digest could not be published
    ├── NothingToMerge             ``merge_reports`` was given no report at all
    └── SelectionError             a tenant or region asked for by name is not in the run

Per-tenant problems (a malformed tag, a denied listing) are *not* raised to the caller: they
become an ``ERROR`` row in the report, so one bad tenant never hides the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backupwatch.core.models import Report


class BackupwatchError(Exception):
    """Root of every exception backupwatch raises on purpose."""


class ConfigurationError(BackupwatchError, ValueError):
    """A setting is invalid. The message names the variable and the bad value.

    Raised while settings are loaded, before any AWS call, so a typo never costs a run.
    """

    def __init__(self, variable: str, value: object, problem: str) -> None:
        self.variable = variable
        self.value = value
        self.problem = problem
        super().__init__(f"{variable}={value!r}: {problem}")


class AwsCallError(BackupwatchError):
    """An AWS call failed for good: the error is not retryable, or retries ran out.

    ``operation`` is the IAM-style name (``rds:DescribeDBSnapshots``), ``code`` the AWS error
    code (``AccessDenied``, ``NoSuchBucket``, ``Throttling``) or the exception class name for
    network errors, ``attempts`` how many times the call was made.
    """

    def __init__(self, operation: str, code: str, message: str, attempts: int) -> None:
        self.operation = operation
        self.code = code
        self.message = message
        self.attempts = attempts
        tries = "" if attempts == 1 else f" after {attempts} attempts"
        super().__init__(f"{operation} failed{tries}: {code}: {message}")

    @property
    def short(self) -> str:
        """One line for a digest: what failed and why, without the AWS request noise."""
        if self.code == "DeadlineExceeded":
            return f"time budget exhausted before {self.operation}"
        tries = "" if self.attempts == 1 else f" (after {self.attempts} attempts)"
        return f"{self.code} on {self.operation}{tries}"


class PublishError(BackupwatchError):
    """The digest could not be published (the topic refused it, or retries ran out)."""


class NothingToMerge(BackupwatchError, ValueError):
    """``merge_reports`` was given no report: there is no run to describe.

    The publish step of the state machine always has at least the plan's own partial report,
    so this means a caller's bug, not an AWS failure.
    """


class SelectionError(BackupwatchError, ValueError):
    """A run narrowed by name (``check_tenants(tenants=..., regions=...)``, the CLI's
    ``--tenant`` and ``--region``) names something the run does not have.

    A region the run does not check is raised before any AWS call (``report`` is None). A
    tenant name that matched no tenant is only known after discovery: ``report`` is then the
    narrowed report, whose ``region_errors`` say where the tenant could not be looked for. A
    filter that matches nothing is never an empty report, which would read as "all is well".
    """

    def __init__(
        self, message: str, *, names: tuple[str, ...], report: Report | None = None
    ) -> None:
        self.names = names
        self.report = report
        super().__init__(message)
