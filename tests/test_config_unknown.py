"""Unknown BACKUPWATCH_* variables are refused, with a did-you-mean suggestion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backupwatch.core.config import ENVIRONMENT, KNOWN_VARIABLES, load_settings
from backupwatch.core.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
BASE = {
    "BACKUPWATCH_SNS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:t",
    "BACKUPWATCH_S3_BUCKET": "my-backups-bucket",
    "AWS_REGION": "eu-west-1",
}


def test_misspelling_suggests_the_known_name() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**BASE, "BACKUPWATCH_DRYRUN": "true"})
    assert str(caught.value) == (
        "BACKUPWATCH_DRYRUN is not a backupwatch variable: did you mean BACKUPWATCH_DRY_RUN?"
    )


def test_unrelated_name_points_to_the_docs() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**BASE, "BACKUPWATCH_ZZZQQQ": "1"})
    message = str(caught.value)
    assert "did you mean" not in message
    assert "docs/configuration.md" in message


def test_several_unknown_variables_reported_together() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**BASE, "BACKUPWATCH_DRYRUN": "true", "BACKUPWATCH_REGION": "x"})
    assert "BACKUPWATCH_DRYRUN" in str(caught.value)
    assert "BACKUPWATCH_REGION" in str(caught.value)


def test_other_prefixes_and_lowercase_ignored() -> None:
    load_settings({**BASE, "AWS_PROFILE": "x", "PATH": "/bin", "backupwatch_dryrun": "1"})


def test_seed_variables_accepted() -> None:
    load_settings(
        {
            **BASE,
            "SNS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:t",
            "S3_BUCKET_NAME": "my-backups-bucket",
            "DB_INSTANCE_IDENTIFIER_1": "db1-instance",
            "S3_FOLDER_1": "db1-backups/",
        }
    )


def test_every_documented_variable_is_known() -> None:
    docs = (ROOT / "docs" / "configuration.md").read_text()
    # Whole names only (digits included: BACKUPWATCH_S3_BUCKET); the misspelling is the
    # docs' own example of a refused variable.
    documented = set(re.findall(r"BACKUPWATCH_[A-Z0-9_]*[A-Z0-9]", docs)) - {"BACKUPWATCH_DRYRUN"}
    assert documented <= KNOWN_VARIABLES, documented - KNOWN_VARIABLES
    for names in ENVIRONMENT.values():
        assert names[0] in KNOWN_VARIABLES


def test_every_variable_in_the_source_is_known() -> None:
    found: set[str] = set()
    for folder in ("backupwatch", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(re.findall(r"[\"'](BACKUPWATCH_[A-Z_]*[A-Z])[\"']", path.read_text()))
    assert found, "the grep found nothing"
    assert found <= KNOWN_VARIABLES, found - KNOWN_VARIABLES
