"""backupwatch: did every tenant get a backup in the last day, and if not, who and why?

The public API, all of it (docs/library.md says more)::

    settings = load_settings(os.environ)          # ConfigurationError on a bad value
    outcome = run_daily(settings)                 # the daily digest Lambda's whole run
    outcome = run_daily(settings, publisher=mine, clock=my_clock)  # any step injected
    report = check_tenants(settings)              # only the check; never raises for AWS trouble
    report = check_tenants(settings, deadline=Deadline.after(600))  # stops in time
    partial = check_scopes(settings, [scope])     # one account-region (a fan-out child)
    report = merge_reports([partial, ...])        # one report from partial ones
    Report.from_json(report.to_json()) == report  # reports are data, versioned
    digest = render_digest(report)                # subject + body that SNS accepts
    changes = compare(previous_report(s3, retrier, bucket=b, prefix=p), report)
    html = render_status_page(recent_reports(s3, retrier, bucket=b, prefix=p, days=30))

Everything else in the package is an implementation detail: ``backupwatch.core`` (pure),
``backupwatch.aws`` (the AWS edge), ``backupwatch.pipeline`` (a run) and ``backupwatch.cli``.
"""

from __future__ import annotations

from backupwatch.aws.archive import previous_report, recent_reports
from backupwatch.aws.retry import Retrier
from backupwatch.core.changes import Changed, Changes, compare
from backupwatch.core.config import Settings, load_settings
from backupwatch.core.deadline import Deadline
from backupwatch.core.digest import Digest, render_digest, should_publish
from backupwatch.core.errors import (
    AwsCallError,
    BackupwatchError,
    ConfigurationError,
    NothingToMerge,
    PublishError,
    SelectionError,
)
from backupwatch.core.evaluation import evaluate_rds, evaluate_s3
from backupwatch.core.merge import merge_reports
from backupwatch.core.models import (
    ArchivedReport,
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
from backupwatch.core.status_page import render_status_page
from backupwatch.core.table import render_table
from backupwatch.pipeline.daily import (
    Archival,
    DigestRenderer,
    Outcome,
    Publisher,
    StatusPageRenderer,
    run_daily,
)
from backupwatch.pipeline.monitor import check_scopes, check_tenants

__version__ = "0.2.0"

__all__ = [
    "Archival",
    "ArchivedReport",
    "AwsCallError",
    "BackupwatchError",
    "Changed",
    "Changes",
    "Check",
    "CheckResult",
    "ConfigurationError",
    "Deadline",
    "Digest",
    "DigestRenderer",
    "NothingToMerge",
    "ObjectInfo",
    "Outcome",
    "PublishError",
    "Publisher",
    "RdsEvidence",
    "RegionError",
    "Report",
    "Retrier",
    "S3Evidence",
    "Scope",
    "SelectionError",
    "Settings",
    "SnapshotInfo",
    "Status",
    "StatusPageRenderer",
    "Summary",
    "Tenant",
    "TenantReport",
    "__version__",
    "check_scopes",
    "check_tenants",
    "compare",
    "evaluate_rds",
    "evaluate_s3",
    "load_settings",
    "merge_reports",
    "previous_report",
    "recent_reports",
    "render_digest",
    "render_status_page",
    "render_table",
    "run_daily",
    "should_publish",
]
