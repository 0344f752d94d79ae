"""Settings: everything configurable, read from the environment and `.env` with the prefix `TIMEBRIDGE_`."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

NonNegativeInt = Annotated[int, Field(ge=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
URL_SETTINGS = (
    "moco_base_url",
    "awork_base_url",
    "awork_app_url",
    "upwork_graphql_url",
    "upwork_token_url",
    "upwork_authorize_url",
    "upwork_redirect_uri",
)


class Settings(BaseSettings):
    """One place for configuration. Secrets are `SecretStr`: they never show in logs, reprs or artifacts."""

    model_config = SettingsConfigDict(env_prefix="TIMEBRIDGE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///.timebridge/timebridge.db"
    timezone: str = "Europe/Berlin"

    moco_base_url: str = ""  # e.g. https://acme.mocoapp.com/api/v1
    moco_api_key: SecretStr = SecretStr("")
    moco_rate_limit: PositiveInt = 120  # requests per window (MOCO: 120 per 2 minutes; 1200 on the unlimited plan)
    moco_rate_window_seconds: PositiveFloat = 120.0

    awork_base_url: str = "https://api.awork.com/api/v1"
    awork_api_key: SecretStr = SecretStr("")
    awork_app_url: str = ""  # e.g. https://acme.awork.com, for links written back to MOCO
    awork_rate_limit_per_second: PositiveInt = 50
    awork_rate_limit_per_minute: PositiveInt = 1000

    upwork_graphql_url: str = "https://api.upwork.com/graphql"
    upwork_token_url: str = "https://www.upwork.com/api/v3/oauth2/token"
    upwork_authorize_url: str = "https://www.upwork.com/ab/account-security/oauth2/authorize"
    upwork_client_id: str = ""
    upwork_client_secret: SecretStr = SecretStr("")
    upwork_redirect_uri: str = "http://127.0.0.1:8765/callback"
    secret_key: SecretStr = SecretStr("")

    http_timeout_seconds: PositiveFloat = 30.0
    http_max_attempts: PositiveInt = 6
    http_backoff_seconds: PositiveFloat = 1.0  # first retry delay; doubles per attempt, with jitter
    http_backoff_max_seconds: PositiveFloat = 60.0
    http_retry_after_max_seconds: PositiveFloat = 300.0  # longest Retry-After we honour before giving up waiting
    http_max_pages: PositiveInt = 10000  # a paginated read stops with an error after this many pages
    shared_rate_limits: bool = True  # with a Prefect server: each API limit is a global concurrency limit too

    # Domain names (MOCO fields, tag and awork list), listed in README "Configuration".
    moco_sync_tag: str = "Sync to awork"
    moco_sync_field: str = "Sync zu awork"
    moco_awork_link_field: str = "awork Projekt"
    moco_template_field: str = "awork Projektvorlage"
    awork_task_list_name: str = "MOCO"
    moco_unassigned_task_name: str = "Nicht zugeordnete Zeiterfassung"
    moco_auto_staff: bool = True

    sync_since: date | None = None  # no time entry or absence before this day is ever carried (None: no bound)
    # a newly linked awork project's entries from this many days back are pushed (TIMEBRIDGE_SYNC_SINCE bounds it)
    push_link_catchup_days: NonNegativeInt = 365
    push_rescan_days: NonNegativeInt = 35  # incremental runs re-read this many past days to find deleted entries
    push_cursor_overlap_minutes: NonNegativeInt = 5
    push_slice_days: PositiveInt = 7  # a run works through its window this many days at a time (bounded memory)
    push_batch_size: PositiveInt = 200  # activity updates or deletions per Prefect task

    upwork_backfill_days: PositiveInt = 90  # a backfill without dates covers this many days up to today (UTC)
    upwork_window_days: PositiveInt = 30  # a backfill reads Upwork this many days at a time (one Prefect task each)
    upwork_type_of_work: str = "Upwork"  # awork type of work of contracts whose mapping names none
    upwork_daily_total_start_hour: int = Field(default=9, ge=0, le=23)  # daily totals (no diary) start then, local

    import_batch_size: PositiveInt = 25  # MOCO projects per Prefect task when applying the import
    max_parallel_batches: PositiveInt = 4
    report_dir: str = ".timebridge/reports"  # where `timebridge report` and the report flows write CSV and PNG

    lease_wait_seconds: NonNegativeFloat = 300  # a run waits this long for another run writing the same scope
    lease_ttl_seconds: PositiveFloat = 120  # a crashed run's writer lease expires after this; renewed every ttl/3

    # Webhooks (`timebridge webhooks ...`): the receiver's secrets and limits.
    awork_webhook_token: SecretStr = SecretStr("")  # the header value awork sends; empty: the one `register` stored
    moco_webhook_secret: SecretStr = SecretStr("")  # MOCO's signing key (shown only in MOCO's web UI)
    webhook_max_body_bytes: PositiveInt = 1_000_000  # a larger delivery is refused (413) before it is read whole
    webhook_max_age_seconds: PositiveFloat = 600  # a MOCO delivery whose timestamp is further off is a replay (401)

    @field_validator("timezone")
    @classmethod
    def _real_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "Europe"
            raise ValueError(
                f"TIMEBRIDGE_TIMEZONE {value!r} is not a time zone; use an IANA name such as 'Europe/Berlin'"
            ) from None
        return value

    @field_validator(*URL_SETTINGS)
    @classmethod
    def _http_url(cls, value: str, info: ValidationInfo) -> str:
        try:
            parts = urlsplit(value)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            usable = False
        if value and not usable:
            name = f"TIMEBRIDGE_{(info.field_name or '').upper()}"
            raise ValueError(f"{name} {value!r} is not an http(s) URL with a host, e.g. https://api.example.com/v1")
        return value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests and the demo clear the cache after changing the environment)."""
    return Settings()
