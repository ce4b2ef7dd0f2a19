"""The naming convention: template placeholders, folders, and rendered prefixes."""

from __future__ import annotations

import pytest

from backupwatch.core.naming import (
    DEFAULT_TEMPLATE,
    PLACEHOLDERS,
    as_folder,
    render_prefix,
    template_fields,
)

ACCOUNT = "123456789012"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{tenant}-backups/", {"tenant"}),
        ("{db_instance_identifier}/", {"db_instance_identifier"}),
        ("{region}/{tenant}/", {"region", "tenant"}),
        ("{account_id}/{region}/{db_instance_identifier}/{tenant}/", set(PLACEHOLDERS)),
        ("{tenant}/{tenant}-again/", {"tenant"}),
        ("backups/", set()),
        ("{{tenant}}-literal/", set()),
        ("", set()),
    ],
)
def test_template_fields_lists_the_placeholders_used(template: str, expected: set[str]) -> None:
    """template_fields returns exactly the known placeholders a template uses."""
    assert template_fields(template) == frozenset(expected)


def test_default_template_uses_only_the_tenant() -> None:
    """The default template is `{tenant}-backups/` and needs nothing but the tenant."""
    assert DEFAULT_TEMPLATE == "{tenant}-backups/"
    assert template_fields(DEFAULT_TEMPLATE) == {"tenant"}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{tenant}/{date}", r"unknown placeholder \{date\}"),
        ("{Tenant}/", r"unknown placeholder \{Tenant\}"),
        ("{}/", r"unknown placeholder \{\}"),
        ("{0}/", r"unknown placeholder \{0\}"),
        ("{tenant.upper}/", r"unknown placeholder"),
        ("{tenant[0]}/", r"unknown placeholder"),
        ("{tenant:>10}/", r"placeholder \{tenant\} takes no format spec"),
        ("{tenant!r}/", r"placeholder \{tenant\} takes no format spec or conversion"),
        ("{region!s:x}/", r"takes no format spec or conversion"),
        ("{tenant", r"not a valid template"),
        ("tenant}/", r"not a valid template"),
        ("{tenant}}/", r"not a valid template"),
    ],
)
def test_template_fields_rejects_anything_but_plain_known_placeholders(
    template: str, message: str
) -> None:
    """Unknown names, format specs, conversions and unbalanced braces raise ValueError."""
    with pytest.raises(ValueError, match=message):
        template_fields(template)


def test_unknown_placeholder_message_lists_the_known_ones() -> None:
    """The unknown-placeholder message tells the operator every placeholder they may use."""
    with pytest.raises(ValueError, match="unknown placeholder") as caught:
        template_fields("{date}/")
    for name in PLACEHOLDERS:
        assert "{" + name + "}" in str(caught.value)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("acme", "acme/"),
        ("acme/", "acme/"),
        ("a/b", "a/b/"),
        ("a/b/", "a/b/"),
        ("acme//", "acme//"),
        ("", "/"),
    ],
)
def test_as_folder_ensures_exactly_one_trailing_slash(prefix: str, expected: str) -> None:
    """as_folder appends `/` only when the prefix does not already end with one."""
    assert as_folder(prefix) == expected


def test_render_prefix_fills_all_four_placeholders() -> None:
    """Every placeholder is replaced by the matching keyword argument."""
    prefix = render_prefix(
        "{account_id}/{region}/{db_instance_identifier}/{tenant}/",
        tenant="acme",
        db_instance_identifier="db1-instance",
        region="eu-west-1",
        account_id=ACCOUNT,
    )
    assert prefix == f"{ACCOUNT}/eu-west-1/db1-instance/acme/"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{tenant}-backups/", "acme-backups/"),
        ("{tenant}-backups", "acme-backups/"),
        ("{tenant}", "acme/"),
        ("backups/{tenant}", "backups/acme/"),
        ("backups/", "backups/"),
    ],
)
def test_render_prefix_always_ends_with_a_slash(template: str, expected: str) -> None:
    """A rendered prefix is a folder, whether or not the template ends with `/`."""
    rendered = render_prefix(
        template, tenant="acme", db_instance_identifier="db1-instance", region="us-east-1"
    )
    assert rendered == expected


@pytest.mark.parametrize(
    "template", ["{tenant}-backups/", "{tenant}-backups", "{tenant}", "{tenant}/", "b/{tenant}"]
)
def test_rendered_prefix_of_acme_is_not_a_prefix_of_acme_eu(template: str) -> None:
    """Tenant `acme` never sees the objects of `acme-eu`: its folder is no string prefix."""

    def render(tenant: str) -> str:
        return render_prefix(
            template, tenant=tenant, db_instance_identifier="db", region="us-east-1"
        )

    acme, acme_eu = render("acme"), render("acme-eu")
    assert not acme_eu.startswith(acme)
    assert not acme.startswith(acme_eu)


def test_default_template_separates_acme_from_acme_eu() -> None:
    """With the default template, `acme-backups/` and `acme-eu-backups/` are distinct folders."""
    common = {"db_instance_identifier": "db", "region": "us-east-1"}
    assert render_prefix(DEFAULT_TEMPLATE, tenant="acme", **common) == "acme-backups/"
    assert render_prefix(DEFAULT_TEMPLATE, tenant="acme-eu", **common) == "acme-eu-backups/"


def test_render_prefix_requires_account_id_when_the_template_uses_it() -> None:
    """A template with {account_id} and no account id raises ValueError naming it."""
    with pytest.raises(ValueError, match="account_id"):
        render_prefix(
            "{account_id}/{tenant}/", tenant="acme", db_instance_identifier="db", region="us-east-1"
        )


@pytest.mark.parametrize("account_id", [None, ACCOUNT])
def test_render_prefix_ignores_account_id_when_the_template_does_not_use_it(
    account_id: str | None,
) -> None:
    """account_id is optional for templates without {account_id}."""
    rendered = render_prefix(
        "{region}/{tenant}/",
        tenant="acme",
        db_instance_identifier="db",
        region="us-east-1",
        account_id=account_id,
    )
    assert rendered == "us-east-1/acme/"


@pytest.mark.parametrize(
    "tenant", ["{region}", "{account_id}", "{{x}}", "acme; rm -rf /", "ü-tenant", "a" * 256]
)
def test_render_prefix_inserts_tenant_values_verbatim(tenant: str) -> None:
    """Braces or shell characters inside a tenant name are substituted as-is, never expanded."""
    rendered = render_prefix(
        "{tenant}-backups/", tenant=tenant, db_instance_identifier="db", region="us-east-1"
    )
    assert rendered == f"{tenant}-backups/"
