"""A first end-to-end check that the fixtures and the pipeline fit together."""

from backupwatch import Status, check_tenants, load_settings

from .conftest import NOW, World, env_for, hours_ago


def test_fresh_tenant_is_ok(world: World, retrier) -> None:
    """A tagged instance with a fresh snapshot and a fresh object is OK."""
    world.bucket()
    world.instance("db1-instance", tenant="db1")
    world.put("db1-backups/a.dump", hours_ago(2))
    report = check_tenants(
        load_settings(env_for()), session=world.session, clock=lambda: NOW, retrier=retrier
    )
    assert [(r.tenant, r.status) for r in report.tenants] == [("db1", Status.OK)]
