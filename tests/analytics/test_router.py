"""The replica's settings and router, without a replica: they decide, nothing is read (test_replica.py reads)."""

import runpy
from types import SimpleNamespace

import environ
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from analytics.routers import AnalyticsReplicaRouter
from members.models import Member

# A model of the analytics app as the router sees it (the app has no model of its own yet).
AnalyticsModel = SimpleNamespace(_meta=SimpleNamespace(app_label="analytics", model_name="dailyfigure"))

router = AnalyticsReplicaRouter()


def test_reads_of_analytics_models_go_to_the_replica_and_other_reads_stay_on_the_primary():
    assert router.db_for_read(AnalyticsModel) == "replica"
    assert router.db_for_read(Member) is None  # Django's default: the primary


def test_every_write_goes_to_the_primary():
    assert router.db_for_write(AnalyticsModel) == "default"
    assert router.db_for_write(Member) == "default"


def test_only_the_primary_is_migrated_and_rows_of_either_relate():
    assert router.allow_migrate("default", "analytics", model_name="dailyfigure") is True
    assert router.allow_migrate("default", "members", model_name="member") is True
    assert router.allow_migrate("replica", "analytics", model_name="dailyfigure") is False
    assert router.allow_migrate("replica", "members", model_name="member") is False
    assert router.allow_relation(Member(), Member()) is True


def settings_with(monkeypatch, **variables):
    """config/settings/base.py evaluated afresh under exactly these environment variables (no .env file read)."""
    monkeypatch.setattr(environ.Env, "read_env", classmethod(lambda cls, *args, **kwargs: None))
    for name in ("DATABASE_URL", "DATABASE_REPLICA_URL", "DATABASE_PREPARED_STATEMENTS", "CONN_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(settings.BASE_DIR / "config" / "settings" / "base.py"))


def test_a_replica_url_adds_the_replica_treated_as_the_primary_and_the_router(monkeypatch):
    evaluated = settings_with(
        monkeypatch,
        DATABASE_URL="postgres://app@db.internal:5432/huiyuan",
        DATABASE_REPLICA_URL="postgres://reader:secret@replica.internal:5433/huiyuan",
        CONN_MAX_AGE="30",
    )

    replica = evaluated["DATABASES"]["replica"]
    assert (replica["HOST"], replica["PORT"], replica["NAME"], replica["USER"], replica["PASSWORD"]) == (
        "replica.internal",
        5433,
        "huiyuan",
        "reader",
        "secret",
    )
    for database in evaluated["DATABASES"].values():
        assert database["ENGINE"] == "shops.postgresql"
        assert (database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"]) == (30, True)
        assert database["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": 5}
    assert evaluated["DATABASE_ROUTERS"] == ["analytics.routers.AnalyticsReplicaRouter"]


def test_client_side_binding_applies_to_the_replica_too(monkeypatch):
    evaluated = settings_with(
        monkeypatch,
        DATABASE_URL="postgres://app@db.internal:5432/huiyuan",
        DATABASE_REPLICA_URL="postgres://app@replica.internal:5432/huiyuan",
        DATABASE_PREPARED_STATEMENTS="false",
    )

    assert "OPTIONS" not in evaluated["DATABASES"]["default"]
    assert "OPTIONS" not in evaluated["DATABASES"]["replica"]


def test_without_a_replica_url_there_is_no_replica_and_no_router(monkeypatch):
    evaluated = settings_with(monkeypatch, DATABASE_URL="postgres://app@db.internal:5432/huiyuan")

    assert list(evaluated["DATABASES"]) == ["default"]
    assert "DATABASE_ROUTERS" not in evaluated


def test_a_replica_of_sqlite_is_refused(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_REPLICA_URL"):
        settings_with(monkeypatch, DATABASE_REPLICA_URL="postgres://app@replica.internal:5432/huiyuan")
