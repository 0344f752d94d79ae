"""Settings: everything configurable, read from the environment and `.env` with the prefix `TIMEBRIDGE_`."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from connectors.http import RetryPolicy


class Settings(BaseSettings):
    """One place for configuration. Secrets are `SecretStr`: they never show in logs, reprs or artifacts."""

    model_config = SettingsConfigDict(env_prefix="TIMEBRIDGE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///.timebridge/timebridge.db"
    timezone: str = "Europe/Berlin"

    moco_base_url: str = ""  # e.g. https://acme.mocoapp.com/api/v1
    moco_api_key: SecretStr = SecretStr("")
    moco_rate_limit: int = 120  # requests per window (MOCO: 120 per 2 minutes; 1200 on the unlimited plan)
    moco_rate_window_seconds: float = 120.0

    awork_base_url: str = "https://api.awork.com/api/v1"
    awork_api_key: SecretStr = SecretStr("")
    awork_app_url: str = ""  # e.g. https://acme.awork.com, for links written back to MOCO
    awork_rate_limit_per_second: int = 50
    awork_rate_limit_per_minute: int = 1000

    upwork_graphql_url: str = "https://api.upwork.com/graphql"
    upwork_token_url: str = "https://www.upwork.com/api/v3/oauth2/token"
    upwork_authorize_url: str = "https://www.upwork.com/ab/account-security/oauth2/authorize"
    upwork_client_id: str = ""
    upwork_client_secret: SecretStr = SecretStr("")
    upwork_redirect_uri: str = "http://127.0.0.1:8765/callback"
    secret_key: SecretStr = SecretStr("")

    http_timeout_seconds: float = 30.0
    http_max_attempts: int = 6
    http_backoff_seconds: float = 1.0  # first retry delay; doubles per attempt, with jitter
    http_backoff_max_seconds: float = 60.0
    http_retry_after_max_seconds: float = 300.0  # longest Retry-After we honour before giving up waiting longer

    # Domain names (MOCO fields, tag and awork list), as in DESIGN.md "Domain rules".
    moco_sync_tag: str = "Sync to awork"
    moco_sync_field: str = "Sync zu awork"
    moco_awork_link_field: str = "awork Projekt"
    moco_template_field: str = "awork Projektvorlage"
    awork_task_list_name: str = "MOCO"
    moco_unassigned_task_name: str = "Nicht zugeordnete Zeiterfassung"
    moco_auto_staff: bool = True

    push_rescan_days: int = 35  # incremental runs re-read this many past days to find deleted entries
    push_cursor_overlap_minutes: int = 5
    push_slice_days: int = 7  # a run works through its window this many days at a time (bounded memory)
    push_batch_size: int = 200  # activity updates or deletions per Prefect task

    upwork_backfill_days: int = 90  # a backfill without dates covers this many days up to today (UTC)
    upwork_window_days: int = 30  # a backfill reads Upwork this many days at a time (one Prefect task each)
    upwork_type_of_work: str = "Upwork"  # awork type of work of contracts whose mapping names none
    upwork_daily_total_start_hour: int = 9  # daily totals (no work diary) start at this local hour

    import_batch_size: int = 25  # MOCO projects per Prefect task when applying the import
    max_parallel_batches: int = 4
    report_dir: str = ".timebridge/reports"  # where `timebridge report` and the report flows write CSV and PNG


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests and the demo clear the cache after changing the environment)."""
    return Settings()


def retry_policy(settings: Settings) -> RetryPolicy:
    """The HTTP retry policy the settings describe."""
    from connectors.http import RetryPolicy

    return RetryPolicy(
        max_attempts=settings.http_max_attempts,
        backoff=settings.http_backoff_seconds,
        backoff_max=settings.http_backoff_max_seconds,
        retry_after_max=settings.http_retry_after_max_seconds,
    )
