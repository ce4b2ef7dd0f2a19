"""Owner routing (pure): the ``backupwatch:owner`` tag, owners on rows, and owner notices."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from backupwatch.core import schema
from backupwatch.core.changes import Changed, compare
from backupwatch.core.config import Settings, load_settings
from backupwatch.core.evaluation import tenant_report
from backupwatch.core.merge import merge_reports
from backupwatch.core.models import (
    Check,
    CheckResult,
    RegionError,
    Report,
    Status,
    Tenant,
    TenantReport,
)
from backupwatch.core.owners import (
    MAX_OWNERS,
    OwnerNotice,
    owner_notices,
    owner_recipients,
    parse_owner_map,
    parse_owners,
    scope_note,
)
from backupwatch.core.tenancy import TAG_OWNER, tenant_from_instance

ROOT = Path(__file__).parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "reports"
REGION = "us-east-1"
NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
YESTERDAY = NOW - timedelta(days=1)
TENANT_TAG = "backupwatch:tenant"
REFUSED = "; the tenant is in no owner's notice"


def settings() -> Settings:
    return load_settings(
        {
            "BACKUPWATCH_S3_BUCKET": "my-backups-bucket",
            "BACKUPWATCH_REGIONS": REGION,
            "AWS_REGION": REGION,
            "BACKUPWATCH_DRY_RUN": "true",
        }
    )


SETTINGS = settings()


def tagged(owner: str | None, **tags: str) -> Tenant:
    all_tags = {TENANT_TAG: "acme", **tags}
    if owner is not None:
        all_tags[TAG_OWNER] = owner
    found = tenant_from_instance(
        db_instance_identifier="db-acme",
        region=REGION,
        tags=all_tags,
        backup_retention_period=7,
        settings=SETTINGS,
    )
    assert found is not None
    return found


# --- the tag ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "owners"),
    [
        ("team-data", ("team-data",)),
        ("team-data team-web", ("team-data", "team-web")),
        ("  team-data\tteam-web  ", ("team-data", "team-web")),
        ("dba@example.com", ("dba@example.com",)),
        ("Team-Data", ("team-data",)),
        ("DBA.Oncall+rds@Example.COM", ("DBA.Oncall+rds@example.com",)),
        ("team-web team-data dba@example.com", ("team-web", "team-data", "dba@example.com")),
        ("team-a TEAM-A team-a", ("team-a",)),
        ("a@EXAMPLE.com a@example.COM", ("a@example.com",)),
        ("0ps team_x t.x " + "z" * 64, ("0ps", "team_x", "t.x", "z" * 64)),
        ("a b c d e", ("a", "b", "c", "d", "e")),
        ("a b c d e A B", ("a", "b", "c", "d", "e")),  # duplicates collapse before counting
    ],
)
def test_the_owner_tag_names_owners(value: str, owners: tuple[str, ...]) -> None:
    """Team keys in lowercase, addresses with the domain in lowercase, order kept, duplicates
    collapsed; no problem, no note."""
    tenant = tagged(value)
    assert tenant.owners == owners
    assert tenant.problems == ()
    assert tenant.notes == ()


def test_no_owner_tag_no_owners() -> None:
    assert tagged(None).owners == ()


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "names no owner"),
        ("   ", "names no owner"),
        ("team-data,team-web", "holds a comma: separate owners with spaces"),
        ("a,", "holds a comma"),
        ("a b c d e f", f"names 6 owners; at most {MAX_OWNERS}"),
        ("team-data Ops!", "has 'Ops!', which is neither a team key"),
        ("-team", "has '-team'"),
        ("z" * 65, "which is neither a team key"),
        ("équipe", "has 'équipe'"),
        ("\u212aelvin", "has '\u212aelvin'"),  # the Kelvin sign lowercases to an ASCII k
        ("t\u0435am", "which is neither"),  # a Cyrillic e
        ("ｔｅａｍ", "which is neither"),  # fullwidth
        ("team\u2011a", "which is neither"),  # a non-breaking hyphen
        ("team-a\u00a0team-b", "which is neither"),  # a no-break space is no separator
        ("\u202eteam", "which is neither"),  # a bidi override
        ("team\x00", "which is neither"),
        ("a@x.com\nBcc: evil@attacker.example", "has 'a@x.com\\nBcc:"),
        ("a@x.com\r\nBcc:evil@attacker.example", "which is neither"),
        ("a@x.com\nteam-b", "which is neither"),  # a newline is no separator either
        ("a@x.com%0aBcc:b@y.com", "which is neither"),
        ("Alice <a@example.com>", "has '<a@example.com>'"),
        ("<a@example.com>", "which is neither"),
        ('"a b"@example.com', "which is neither"),
        ("a@[127.0.0.1]", "which is neither"),
        ("a@localhost", "which is neither"),
        ("a@@example.com", "which is neither"),
        (".a@example.com", "which is neither"),
        ("a..b@example.com", "which is neither"),
        ("a@example..com", "which is neither"),
        ("a@-example.com", "which is neither"),
        ("a@example.com;b@example.com", "which is neither"),
        ("a@exämple.com", "which is neither"),
        ("x" * 65 + "@example.com", "which is neither"),
        ("ok team-a bad/", "has 'bad/'"),  # one bad key refuses the whole tag
    ],
)
def test_a_malformed_owner_tag_is_refused_whole(value: str, why: str) -> None:
    """A problem naming the tag and its value (escaped: no raw control character reaches a
    digest), no owner at all kept, and nothing else about the tenant changed."""
    tenant = tagged(value)
    assert tenant.owners == ()
    [problem] = tenant.problems
    assert problem.startswith(f"tag {TAG_OWNER}={value[:80]!r} ")
    assert why in problem
    assert problem.endswith(REFUSED)
    assert problem.isprintable()
    untagged = tagged(None)
    assert tenant.model_copy(update={"problems": ()}) == untagged


def test_a_bad_owner_tag_makes_the_tenant_error_like_a_bad_runbook() -> None:
    """The row is ERROR, its reason leads with the problem, and the checks are still shown."""
    result = CheckResult(check=Check.RDS, status=Status.STALE, reason="newest snapshot 31 h old")
    row = tenant_report(tagged("team-a,team-b"), {Check.RDS: result})
    assert row.status is Status.ERROR
    assert row.failing
    assert row.owners == ()
    assert row.reason.startswith(f"tag {TAG_OWNER}='team-a,team-b' holds a comma")
    assert row.reason.endswith("; rds: newest snapshot 31 h old")


def test_the_owner_tag_touches_only_its_own_tenant() -> None:
    """Other tags of the tenant still apply; another tenant is not affected at all."""
    tenant = tagged("bad,owner", **{"backupwatch:max-age-hours": "36"})
    assert tenant.max_age_hours == 36
    assert tagged("team-a").problems == ()


def test_the_documented_problems_are_what_the_code_says() -> None:
    """docs/tagging.md quotes these reasons; they must stay true."""
    doc = (ROOT / "docs" / "tagging.md").read_text(encoding="utf-8")
    for value in ("team-data,team-web", "team-data Ops!", "a b c d e f"):
        [problem] = tagged(value).problems
        assert problem in doc, problem
    assert f"`{TAG_OWNER}`" in doc


def test_parse_owners_raises_with_the_reason() -> None:
    assert parse_owners(" Team-A ") == ("team-a",)
    with pytest.raises(ValueError, match=r"^names no owner$"):
        parse_owners("")


# --- rows and the report JSON -----------------------------------------------------------------


def row(
    name: str,
    status: Status = Status.OK,
    *owners: str,
    failing: bool | None = None,
    region: str = REGION,
) -> TenantReport:
    return TenantReport(
        tenant=name,
        db_instance_identifier=f"db-{name}",
        region=region,
        status=status,
        reason=f"{name} is {status.value}",
        owners=owners,
        failing=status.failing if failing is None else failing,
    )


def report(
    at: datetime,
    *rows: TenantReport,
    errors: tuple[RegionError, ...] = (),
    accounts: tuple[str, ...] = (),
) -> Report:
    return Report(
        generated_at=at,
        regions=(REGION,),
        checks=(Check.RDS, Check.S3),
        tenants=rows,
        region_errors=errors,
        accounts=accounts,
    )


def test_the_row_carries_the_tenants_owners() -> None:
    """``tenant_report`` copies the owners next to the runbook."""
    result = CheckResult(check=Check.RDS, status=Status.STALE, reason="31 h old")
    tenant = tagged("team-a dba@example.com", **{"backupwatch:runbook": "https://wiki/x"})
    row_ = tenant_report(tenant, {Check.RDS: result})
    assert row_.owners == ("team-a", "dba@example.com")
    assert row_.runbook == "https://wiki/x"


def test_owners_round_trip_through_json() -> None:
    """Written after ``runbook`` when there is one; read back unchanged; valid by the schema."""
    original = report(NOW, row("a", Status.STALE, "team-a", "dba@example.com"), row("b"))
    written = original.to_json()
    document = json.loads(written)
    first, second = document["tenants"]
    assert first["owners"] == ["team-a", "dba@example.com"]
    assert list(first)[list(first).index("runbook") + 1] == "owners"
    assert "owners" not in second
    assert Report.from_json(written) == original
    assert Report.from_json(written).to_json() == written
    assert merge_reports([original]).tenants[0].owners == ("team-a", "dba@example.com")
    jsonschema = pytest.importorskip("jsonschema")
    generated = json.loads(schema.generate())
    jsonschema.validate(document, generated)
    first["owners"] = "team-a"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, generated)


def test_owners_are_optional_in_the_schema() -> None:
    """Like ``CheckResult.deferred_to``: in the properties, not required."""
    generated = json.loads(schema.generate())["$defs"]
    assert schema.OMITTED_WHEN_UNSET["TenantReport"] == {"owners"}
    assert schema.OMITTED_WHEN_UNSET["CheckResult"] == {"deferred_to"}
    tenant_report_ = generated["TenantReport"]
    assert "owners" in tenant_report_["properties"]
    assert "owners" not in tenant_report_["required"]
    assert set(tenant_report_["required"]) == set(tenant_report_["properties"]) - {"owners"}


def _counting_noncompliant(written_before: str) -> str:
    """The v2 fixture as this version writes it: the same text plus ``NONCOMPLIANT: 0``
    (tests/test_report_versions.py says why)."""
    pattern = re.compile(r'(\n( +)"EMPTY": \d+,)(\n +"STOPPED": )')
    rewritten, found = pattern.subn(r'\1\n\2"NONCOMPLIANT": 0,\3', written_before)
    assert found == 1
    return rewritten


@pytest.mark.parametrize("name", ["v1.json", "v2.json"])
def test_an_older_report_is_read_without_owners(name: str) -> None:
    report_ = Report.from_json((FIXTURES / name).read_bytes())
    assert report_.tenants
    assert all(row_.owners == () for row_ in report_.tenants)
    assert '"owners"' not in report_.to_json(indent=2)


def test_a_report_without_owners_is_written_byte_for_byte_as_before() -> None:
    """The v2 fixture, read and written, is its own text (plus the status count added since):
    no ``owners`` key appears; and a report whose owners are removed again writes exactly
    that text."""
    text = (FIXTURES / "v2.json").read_text(encoding="utf-8")
    report_ = Report.from_json(text)
    written = report_.to_json(indent=2) + "\n"
    assert written == _counting_noncompliant(text)
    owned = report_.model_copy(
        update={
            "tenants": tuple(r.model_copy(update={"owners": ("team-a",)}) for r in report_.tenants)
        }
    )
    assert owned.to_json(indent=2).count('"owners": [') == len(report_.tenants)
    cleared = owned.model_copy(
        update={"tenants": tuple(r.model_copy(update={"owners": ()}) for r in owned.tenants)}
    )
    assert cleared.to_json(indent=2) + "\n" == written


# --- owner notices ----------------------------------------------------------------------------


FLEET = report(
    NOW,
    row("alpha", Status.STALE, "team-a"),
    row("bravo", Status.OK, "team-b"),
    row("charlie", Status.MISSING, "team-a", "team-b"),
    row("delta", Status.OK, "team-c"),
    row("echo", Status.ERROR),
    row("foxtrot", Status.PENDING, "team-c"),
    errors=(RegionError(region="eu-central-1", reason="AccessDenied"),),
)


def tenants(notice: OwnerNotice) -> list[str]:
    return [row_.tenant for row_ in notice.report.tenants]


def test_one_notice_per_owner_with_a_failing_tenant() -> None:
    """team-a (two failures) and team-b (its shared failure and its OK tenant), sorted; team-c
    has none failing, and the tenant without owners is in no notice."""
    notices = owner_notices(FLEET)
    assert [n.owner for n in notices] == ["team-a", "team-b"]
    team_a, team_b = notices
    assert tenants(team_a) == ["alpha", "charlie"]
    assert tenants(team_b) == ["bravo", "charlie"]  # all of its tenants: its own counts
    assert (team_a.failing, team_a.all_clear) == (2, False)
    assert (team_b.failing, team_b.all_clear) == (1, False)
    assert team_b.report.summary.tenants == 2
    assert team_b.report.summary.failing == 1
    assert team_b.changes is None


def test_a_notice_is_the_runs_report_cut_to_the_owner() -> None:
    """Same time, regions, checks and accounts; no scope errors (they have no owner)."""
    fleet = FLEET.model_copy(update={"accounts": ("111111111111",)})
    [notice, _] = owner_notices(fleet)
    assert notice.report.generated_at == fleet.generated_at
    assert notice.report.regions == fleet.regions
    assert notice.report.checks == fleet.checks
    assert notice.report.accounts == fleet.accounts
    assert notice.report.region_errors == ()
    with pytest.raises(ValidationError):
        notice.failing = 0


@pytest.mark.parametrize(
    ("all_clear", "owners"),
    [
        ((), ["team-a", "team-b"]),
        (["team-c"], ["team-a", "team-b", "team-c"]),
        (["TEAM-C"], ["team-a", "team-b", "team-c"]),
        ("*", ["team-a", "team-b", "team-c"]),
        (("*",), ["team-a", "team-b", "team-c"]),
        (["team-z"], ["team-a", "team-b"]),  # owns no tenant here: nothing to clear
        (["team-a"], ["team-a", "team-b"]),
    ],
)
def test_an_all_clear_notice_only_when_asked(
    all_clear: tuple[str, ...] | str, owners: list[str]
) -> None:
    notices = owner_notices(FLEET, all_clear=all_clear)
    assert [n.owner for n in notices] == owners
    clear = [n for n in notices if n.all_clear]
    assert all(n.failing == 0 for n in clear)
    if "team-c" in owners:
        [team_c] = clear
        assert tenants(team_c) == ["delta", "foxtrot"]


def test_all_clear_as_a_plain_string_is_refused() -> None:
    """``"team-c"`` would be read as the keys t, e, a... : a caller's mistake, said at once."""
    with pytest.raises(TypeError, match="collection of owner keys"):
        owner_notices(FLEET, all_clear="team-c")


def test_no_owners_no_notices() -> None:
    assert owner_notices(report(NOW, row("a", Status.STALE), row("b"))) == []
    assert owner_notices(report(NOW), all_clear="*") == []


def test_what_counts_as_failing_is_the_rows_own_failing() -> None:
    """A stopped tenant made failing by the setting is routed, one that is not is not; a
    status this version does not know (read from a newer report) is failing."""
    fleet = report(
        NOW,
        row("a", Status.STOPPED, "team-a", failing=True),
        row("b", Status.STOPPED, "team-b"),
        row("c", Status.OK, "team-c"),
    )
    document = json.loads(fleet.to_json())
    document["tenants"][2].update(status="CORRUPT", failing=False)
    read = Report.from_json(json.dumps(document))
    notices = owner_notices(read)
    assert [(n.owner, n.failing) for n in notices] == [("team-a", 1), ("team-c", 1)]
    assert notices[1].report.tenants[0].status.value == "CORRUPT"


def names(items: tuple[Changed, ...]) -> list[str]:
    return [item.row.tenant for item in items]


def test_changes_are_restricted_to_the_owners_tenants() -> None:
    """Each section keeps only the owner's tenants (a gone tenant by its previous row's
    owners), and the streaks only theirs."""
    before = report(
        YESTERDAY,
        row("alpha", Status.STALE, "team-a"),
        row("bravo", Status.STALE, "team-b"),
        row("charlie", Status.OK, "team-a", "team-b"),
        row("golf", Status.OK, "team-a"),
        row("hotel", Status.STALE, "team-b"),
    )
    now = report(
        NOW,
        row("alpha", Status.STALE, "team-a"),
        row("bravo", Status.OK, "team-b"),
        row("charlie", Status.MISSING, "team-a", "team-b"),
        row("hotel", Status.STALE, "team-b"),
        row("india", Status.PENDING, "team-a"),
    )
    changes = compare(before, now)
    team_a, team_b = owner_notices(now, changes=changes)
    assert team_a.changes is not None
    assert team_b.changes is not None
    assert names(team_a.changes.new_failures) == ["charlie"]
    assert names(team_a.changes.still_failing) == ["alpha"]
    assert names(team_a.changes.recovered) == []
    assert names(team_a.changes.gone) == ["golf"]
    assert names(team_a.changes.new_tenants) == ["india"]
    assert names(team_b.changes.new_failures) == ["charlie"]
    assert names(team_b.changes.still_failing) == ["hotel"]
    assert names(team_b.changes.recovered) == ["bravo"]
    assert names(team_b.changes.gone) == names(team_b.changes.new_tenants) == []
    assert team_a.changes.previous_at == changes.previous_at
    assert team_a.changes.current_at == changes.current_at
    keys = {r.key for r in now.tenants}
    by_name = {r.tenant: r.key for r in now.tenants}
    assert set(changes.failing_since) <= keys
    assert set(team_a.changes.failing_since) == {by_name["alpha"], by_name["charlie"]}
    assert set(team_b.changes.failing_since) == {by_name["charlie"], by_name["hotel"]}


def test_without_a_previous_report_the_streaks_are_still_the_owners() -> None:
    changes = compare(None, FLEET)
    [team_a, team_b] = owner_notices(FLEET, changes=changes)
    assert team_a.changes is not None
    assert not team_a.changes.compared
    assert set(team_a.changes.failing_since) == {r.key for r in team_a.report.tenants}
    assert team_b.changes is not None
    assert {k[3] for k in team_b.changes.failing_since} == {"db-charlie"}


def test_scope_note() -> None:
    """Nothing when every scope was checked; otherwise how many, and where their tenants are."""
    assert scope_note(report(NOW, row("a"))) is None
    assert scope_note(FLEET) == (
        "1 region(s) could not be checked in this run; their tenants are in no owner's "
        "notice (see the central digest)."
    )
    errors = (
        RegionError(region=REGION, reason="x", account_id="111111111111"),
        RegionError(region=None, reason="y", account_id="222222222222"),
    )
    note = scope_note(report(NOW, row("a"), errors=errors, accounts=("111111111111",)))
    assert note is not None
    assert note.startswith("2 scope(s) could not be checked")


# --- recipients -------------------------------------------------------------------------------


OWNER_MAP = {
    "team-data": ("alice@example.com", "bob@partner.example"),
    "dba@example.com": ("oncall@example.com",),
}
ALLOWED = ("example.com", "Corp.Example.NET.")


@pytest.mark.parametrize(
    ("owner", "recipients"),
    [
        ("team-data", ("alice@example.com", "bob@partner.example")),  # the map is trusted
        ("TEAM-DATA", ("alice@example.com", "bob@partner.example")),
        ("team-web", ()),  # an unmapped team key
        ("dba@example.com", ("oncall@example.com",)),  # a mapped address is redirected
        ("ops@example.com", ("ops@example.com",)),
        ("ops@EXAMPLE.COM", ("ops@example.com",)),
        ("ops@corp.example.net", ("ops@corp.example.net",)),
        ("ops@attacker.example", ()),
        ("ops@eu.example.com", ()),  # a subdomain is a domain of its own
        ("ops@example.com.attacker.example", ()),
        ("ops@example.co", ()),
        ("a@example.com\nBcc: evil@attacker.example", ()),  # not a key at all
        ("Ops <ops@example.com>", ()),
        ("", ()),
    ],
)
def test_owner_recipients(owner: str, recipients: tuple[str, ...]) -> None:
    assert owner_recipients(owner, OWNER_MAP, allowed_domains=ALLOWED) == recipients


def test_no_allowed_domains_means_only_mapped_keys_get_mail() -> None:
    assert owner_recipients("ops@example.com", {}, allowed_domains=()) == ()
    assert owner_recipients("team-data", OWNER_MAP, allowed_domains=()) == OWNER_MAP["team-data"]


# --- the owner map ----------------------------------------------------------------------------


def test_parse_owner_map() -> None:
    raw = (
        " team-data=alice@example.com bob@example.com ; Team-Web = web@EXAMPLE.com,"
        "ops@example.com , web@example.com;dba@Example.com=oncall@example.com;"
    )
    assert parse_owner_map(raw) == {
        "team-data": ("alice@example.com", "bob@example.com"),
        "team-web": ("web@example.com", "ops@example.com"),
        "dba@example.com": ("oncall@example.com",),
    }
    assert parse_owner_map("") == {}
    assert parse_owner_map(" ; ;") == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("team-data", "entry 1 'team-data' has no '=': write owner=address [address ...]"),
        ("a=x@example.com;team-web", "entry 2 'team-web' has no '='"),
        ("=x@example.com", "entry 1: '' is neither a team key"),
        ("team data=x@example.com", "entry 1: 'team data' is neither a team key"),
        ("équipe=x@example.com", "entry 1: 'équipe' is neither"),
        ("team-a=", "entry 1 (team-a): names no address"),
        ("team-a= , ", "entry 1 (team-a): names no address"),
        ("team-a=alice", "entry 1 (team-a): 'alice' is not an email address (local@domain)"),
        ("team-a=x@example.com=y", "'x@example.com=y' is not an email address"),
        ("team-a=Alice <a@example.com>", "'Alice' is not an email address"),
        ("team-a=a@x.com\nBcc:b@y.com", "'Bcc:b@y.com' is not an email address"),
        (
            "team-a=x@example.com;TEAM-A=y@example.com",
            "entry 2: team-a is mapped twice (also in entry 1)",
        ),
    ],
)
def test_a_malformed_owner_map_is_refused_precisely(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_owner_map(raw)
