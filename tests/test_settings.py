"""Settings refuse values that cannot work (a zero size, an unknown time zone, a URL without a host) with an error
that names the setting, and accept their defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.settings import Settings


@pytest.fixture(autouse=True)
def no_environment(monkeypatch):
    """Only what a test passes: no TIMEBRIDGE_ variables from the environment (a .env is ignored below too)."""
    import os

    for name in [name for name in os.environ if name.startswith("TIMEBRIDGE_")]:
        monkeypatch.delenv(name)


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_the_defaults_validate():
    defaults = settings()
    assert (defaults.timezone, defaults.push_slice_days, defaults.http_max_pages) == ("Europe/Berlin", 7, 10000)
    assert (defaults.lease_wait_seconds, defaults.lease_ttl_seconds) == (300, 120)


@pytest.mark.parametrize(
    "name",
    [
        "push_slice_days",
        "push_batch_size",
        "import_batch_size",
        "upwork_window_days",
        "upwork_backfill_days",
        "moco_rate_limit",
        "awork_rate_limit_per_second",
        "http_timeout_seconds",
        "http_max_attempts",
        "http_max_pages",
        "lease_ttl_seconds",
    ],
)
def test_a_zero_size_count_window_or_timeout_names_the_setting(name):
    with pytest.raises(ValidationError) as refused:
        settings(**{name: 0})
    assert refused.value.errors()[0]["loc"] == (name,)
    assert name in str(refused.value)


def test_settings_from_the_environment_are_checked_too(monkeypatch):
    monkeypatch.setenv("TIMEBRIDGE_PUSH_SLICE_DAYS", "-1")
    with pytest.raises(ValidationError, match="push_slice_days"):
        settings()


def test_an_unknown_time_zone_is_refused_by_name():
    with pytest.raises(ValidationError) as refused:
        settings(timezone="Europe/Berln")
    assert "TIMEBRIDGE_TIMEZONE 'Europe/Berln' is not a time zone" in str(refused.value)
    for folder_or_path in ("Europe", "../etc/passwd", ""):
        with pytest.raises(ValidationError, match="timezone"):
            settings(timezone=folder_or_path)


@pytest.mark.parametrize("url", ["acme.mocoapp.com/api/v1", "ftp://acme.mocoapp.com", "https://", "http://[::1"])
def test_a_url_without_http_or_a_host_is_refused_by_name(url):
    with pytest.raises(ValidationError) as refused:
        settings(moco_base_url=url)
    assert f"TIMEBRIDGE_MOCO_BASE_URL {url!r} is not an http(s) URL with a host" in str(refused.value)


@pytest.mark.parametrize("name", ["awork_base_url", "upwork_graphql_url", "upwork_token_url", "upwork_authorize_url"])
def test_every_api_url_is_checked(name):
    with pytest.raises(ValidationError, match=name):
        settings(**{name: "not a url"})


def test_an_empty_url_means_not_configured():
    assert settings(moco_base_url="", awork_app_url="").moco_base_url == ""


def test_a_zero_lease_wait_means_do_not_wait():
    assert settings(lease_wait_seconds=0).lease_wait_seconds == 0
