"""MOCO API v1: typed models and the client. All HTTP concerns live in `connectors.http`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.http import Connector, RateLimit, build_client, paginate_link_header
from models.settings import Settings, retry_policy

PER_PAGE = 100  # MOCO's maximum page size


class MocoModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MocoRef(MocoModel):
    """The `{id, name}` form in which MOCO embeds customers, projects and tasks."""

    id: int
    name: str


class MocoTask(MocoModel):
    """A project task ("Leistungsposition")."""

    id: int
    name: str
    active: bool = True
    billable: bool = True


class MocoProject(MocoModel):
    id: int
    identifier: str | None = None
    name: str
    active: bool = True
    start_date: date | None = None
    finish_date: date | None = None
    customer: MocoRef | None = None
    tags: list[str] = Field(default_factory=list)
    custom_properties: dict[str, Any] = Field(default_factory=dict)
    tasks: list[MocoTask] = Field(default_factory=list)
    updated_at: datetime | None = None


class MocoCompany(MocoModel):
    id: int
    name: str
    type: str | None = None


class MocoCustomProperty(MocoModel):
    """A custom field definition ("Eigenes Feld")."""

    id: int
    name: str
    kind: str
    entity: str
    defaults: list[Any] = Field(default_factory=list)


class MocoClient(Connector):
    """MOCO API v1. One instance per task; `http.requests` counts the HTTP requests sent."""

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> MocoClient:
        http = build_client(
            "moco",
            settings.moco_base_url,
            {"Authorization": _token_header(settings)},
            limits=[RateLimit(settings.moco_rate_limit, settings.moco_rate_window_seconds)],
            limiter_key=settings.moco_api_key,
            timeout=settings.http_timeout_seconds,
            retry=retry_policy(settings),
            **overrides,
        )
        return cls(http)

    def projects(
        self,
        *,
        tags: list[str] | None = None,
        custom_properties: Mapping[str, str] | None = None,
        updated_after: datetime | None = None,
    ) -> Iterator[MocoProject]:
        """Active projects visible to the key, filtered by tags and custom field values, tasks embedded."""
        params: dict[str, Any] = {}
        if tags:
            params["tags"] = ",".join(tags)
        for name, value in (custom_properties or {}).items():
            params[f"custom_properties[{name}]"] = value
        if updated_after:
            params["updated_after"] = updated_after.strftime("%Y-%m-%dT%H:%M:%SZ")
        for item in paginate_link_header(self.http, "projects", params, PER_PAGE):
            yield MocoProject.model_validate(item)

    def project(self, project_id: int) -> MocoProject:
        return MocoProject.model_validate(self.http.get(f"projects/{project_id}"))

    def update_project_custom_properties(self, project_id: int, values: Mapping[str, str]) -> MocoProject:
        """Write custom field values; MOCO merges them with the project's other custom fields."""
        response = self.http.request("PUT", f"projects/{project_id}", json={"custom_properties": dict(values)})
        return MocoProject.model_validate(response.json())

    def project_tasks(self, project_id: int) -> Iterator[MocoTask]:
        for item in paginate_link_header(self.http, f"projects/{project_id}/tasks", {}, PER_PAGE):
            yield MocoTask.model_validate(item)

    def companies(self, *, company_type: str | None = "customer") -> Iterator[MocoCompany]:
        params = {"type": company_type} if company_type else {}
        for item in paginate_link_header(self.http, "companies", params, PER_PAGE):
            yield MocoCompany.model_validate(item)

    def custom_properties(self, entity: str = "Project") -> list[MocoCustomProperty]:
        """The account's custom field definitions for an entity."""
        items = paginate_link_header(self.http, "account/custom_properties", {"entity": entity}, PER_PAGE)
        return [MocoCustomProperty.model_validate(item) for item in items]


def _token_header(settings: Settings) -> SecretStr:
    return SecretStr(f"Token token={settings.moco_api_key.get_secret_value()}")
