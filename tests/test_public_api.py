"""The public surface changes only on purpose."""

import backupwatch


def test_exports_match_all() -> None:
    """Every name in ``__all__`` exists, and the list is exactly what we mean to export."""
    assert sorted(backupwatch.__all__) == sorted(
        [
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
    )
    for name in backupwatch.__all__:
        assert hasattr(backupwatch, name), name


def test_errors_share_one_root() -> None:
    """Callers can catch everything backupwatch raises on purpose with one except clause."""
    for error in (
        backupwatch.ConfigurationError,
        backupwatch.AwsCallError,
        backupwatch.PublishError,
        backupwatch.NothingToMerge,
        backupwatch.SelectionError,
    ):
        assert issubclass(error, backupwatch.BackupwatchError)


def test_library_imports_no_moto() -> None:
    """moto is a demo/test extra: importing the library must not need it."""
    import subprocess
    import sys

    code = "import sys, backupwatch, handlers.daily_digest; print('moto' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
