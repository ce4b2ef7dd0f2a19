"""backupwatch: did every tenant get a backup in the last day, and if not, who and why?

The public API, all of it::

    settings = load_settings(os.environ)          # ConfigurationError on a bad value
    report = check_tenants(settings)              # never raises for AWS trouble
    report = check_tenants(settings, deadline=Deadline.after(600))  # stops in time
    partial = check_scopes(settings, [scope])     # one account-region (a fan-out child)
    report = merge_reports([partial, ...])        # one report from partial ones
    Report.from_json(report.to_json()) == report  # reports are data
    digest = render_digest(report)                # subject + body that SNS accepts
    if should_publish(report, settings.notify):
        ...                                       # publishing is the caller's job

Everything else in the package is an implementation detail.
"""

from __future__ import annotations

from backupwatch.aws.retry import Retrier
from backupwatch.core.config import Settings, load_settings
from backupwatch.core.deadline import Deadline
from backupwatch.core.digest import Digest, render_digest, should_publish
from backupwatch.core.errors import (
    AwsCallError,
    BackupwatchError,
    ConfigurationError,
    NothingToMerge,
    PublishError,
)
from backupwatch.core.evaluation import evaluate_rds, evaluate_s3
from backupwatch.core.merge import merge_reports
from backupwatch.core.models import (
    Check,
    CheckResult,
    ObjectInfo,
    RdsEvidence,
    RegionError,
    Report,
    S3Evidence,
    Scope,
    SnapshotInfo,
    Status,
    Summary,
    Tenant,
    TenantReport,
)
from backupwatch.core.table import render_table
from backupwatch.pipeline.monitor import check_scopes, check_tenants

__version__ = "0.1.0"

__all__ = [
    "AwsCallError",
    "BackupwatchError",
    "Check",
    "CheckResult",
    "ConfigurationError",
    "Deadline",
    "Digest",
    "NothingToMerge",
    "ObjectInfo",
    "PublishError",
    "RdsEvidence",
    "RegionError",
    "Report",
    "Retrier",
    "S3Evidence",
    "Scope",
    "Settings",
    "SnapshotInfo",
    "Status",
    "Summary",
    "Tenant",
    "TenantReport",
    "__version__",
    "check_scopes",
    "check_tenants",
    "evaluate_rds",
    "evaluate_s3",
    "load_settings",
    "merge_reports",
    "render_digest",
    "render_table",
    "should_publish",
]
