"""Upwork: OAuth 2.0 with rotating refresh tokens, and the GraphQL API (errors arrive inside HTTP 200 bodies).

Tokens are kept by a `TokenKeeper` (the store keeps them encrypted); the client refreshes an access token shortly
before it expires and once more on a 401, under the keeper's lock: whoever waited reads the winner's tokens, so a
rotated refresh token is used once and stored at once. Queries are reads: retried like a GET.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.http import (
    ApiClient,
    ApiError,
    AuthError,
    ClientError,
    Connector,
    PageGuard,
    RateLimit,
    build_client,
    retry_policy,
)
from models.settings import Settings
from models.tokens import TokenSet

PAGE_SIZE = 500  # contractTimeReport's `first`; larger values are refused
VENDOR_PAGE = 50
REFRESH_MARGIN = timedelta(minutes=5)


# --- errors -------------------------------------------------------------------------------------------------------
class UpworkGraphQLError(ClientError):
    """Upwork answered 200 with `errors` (and no usable `data`)."""


class UpworkScopeError(UpworkGraphQLError):
    """The API key lacks a scope for a requested field; Upwork aborts the whole query. Not worth retrying: the
    scopes are chosen on the API key in Upwork's API Center."""


class ReauthorizationNeeded(AuthError):
    """The refresh token is expired or revoked: someone must run `timebridge upwork connect` again."""


class MalformedResponseError(ApiError):
    """Upwork's answer is not the JSON the query asks for."""


# --- tokens -------------------------------------------------------------------------------------------------------
class LockedTokens(Protocol):
    """The stored tokens, read under a lock held until the `with` block ends (other threads and processes wait);
    either write ends the transaction that holds it."""

    @property
    def tokens(self) -> TokenSet | None: ...

    def save(self, tokens: TokenSet) -> None: ...

    def needs_reauthorization(self, refused: SecretStr) -> None:
        """Mark the connection, unless its refresh token is no longer `refused` (compare-and-set)."""


class TokenKeeper(Protocol):
    """Where tokens live between runs (the store, encrypted)."""

    def load(self) -> TokenSet | None: ...

    def locked_tokens(self) -> AbstractContextManager[LockedTokens]: ...


class UpworkOAuth:
    """The authorize URL and the token endpoint (authorization code, refresh token)."""

    def __init__(self, settings: Settings, http: ApiClient, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._settings = settings
        self._http = http
        self._clock = clock

    def authorize_url(self, state: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self._settings.upwork_client_id,
            "redirect_uri": self._settings.upwork_redirect_uri,
            "state": state,
        }
        return f"{self._settings.upwork_authorize_url}?{urlencode(params)}"

    def exchange_code(self, code: str) -> TokenSet:
        return self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": self._settings.upwork_redirect_uri}
        )

    def refresh(self, refresh_token: SecretStr) -> TokenSet:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token.get_secret_value()})

    def _token(self, form: dict[str, str]) -> TokenSet:
        auth = httpx.BasicAuth(self._settings.upwork_client_id, self._settings.upwork_client_secret.get_secret_value())
        try:
            response = self._http.request("POST", self._settings.upwork_token_url, data=form, auth=auth)
        except ClientError as error:
            if "invalid_grant" in error.message:
                raise ReauthorizationNeeded(error.api, error.method, error.url, error.status, error.message) from error
            raise
        body = response.json()
        try:
            return TokenSet(
                access_token=SecretStr(body["access_token"]),
                refresh_token=SecretStr(body["refresh_token"]),
                expires_at=self._clock() + timedelta(seconds=int(body.get("expires_in") or 86400)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedResponseError(
                "upwork", "POST", "token", response.status_code, "no tokens in the answer"
            ) from error


# --- typed results ------------------------------------------------------------------------------------------------
class UpworkModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class UpworkOrganizationInfo(UpworkModel):
    id: str = Field(alias="organizationId")
    name: str = Field(alias="title")
    type: str | None = Field(default=None, alias="organizationType")
    legacy_type: str | None = Field(default=None, alias="organizationLegacyType")


class UpworkPerson(UpworkModel):
    id: str
    name: str | None = None
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    email: str | None = None


class Money(UpworkModel):
    raw_value: Decimal = Field(alias="rawValue")
    currency: str = "USD"


class HourlyTerm(UpworkModel):
    id: str | None = None
    hourly_rate: Money = Field(alias="hourlyRate")
    start_date: date | None = Field(default=None, alias="startDate")
    end_date: date | None = Field(default=None, alias="endDate")


class ContractTerms(UpworkModel):
    hourly_terms: list[HourlyTerm] | None = Field(default=None, alias="hourlyTerms")
    fixed_price_terms: list[dict[str, Any]] | None = Field(default=None, alias="fixedPriceTerms")


class NamedRef(UpworkModel):
    id: str
    name: str | None = None


class UpworkContractInfo(UpworkModel):
    id: str
    title: str
    status: str
    start_date: date | None = Field(default=None, alias="startDate")
    end_date: date | None = Field(default=None, alias="endDate")
    modify_date: datetime | None = Field(default=None, alias="modifyDate")
    freelancer: UpworkPerson
    client_organization: NamedRef | None = Field(default=None, alias="clientOrganization")
    terms: ContractTerms | None = None

    @property
    def is_hourly(self) -> bool:
        return bool(self.terms and self.terms.hourly_terms)


class TimeReportRow(UpworkModel):
    date_worked_on: date = Field(alias="dateWorkedOn")
    hours: float = Field(default=0.0, alias="totalHoursWorked")
    memo: str | None = None
    task_description: str | None = Field(default=None, alias="taskDescription")
    contract: NamedRef
    freelancer: UpworkPerson | None = None


class DiaryCell(UpworkModel):
    """A 10-minute work diary cell."""

    start: datetime
    memo: str | None = None
    task: str | None = None
    manual: bool = False


DIARY_BATCH = 10
DIARY_FIELDS = "workDiaryTimeCells { cellDateTime { rawValue } memo manual task { description } }"
CONTRACT_FIELDS = """id title status startDate endDate modifyDate
  freelancer { id name firstName lastName email }
  clientOrganization { id name }
  terms { hourlyTerms { id hourlyRate { rawValue currency } startDate endDate } fixedPriceTerms { id } }"""


class UpworkClient(Connector):
    """Upwork GraphQL. Queries go to one organisation at a time (`X-Upwork-API-TenantId`)."""

    def __init__(
        self,
        http: ApiClient,
        graphql_url: str,
        tokens: TokenKeeper,
        oauth: UpworkOAuth,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(http)
        self._url = graphql_url
        self._tokens = tokens
        self._oauth = oauth
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, tokens: TokenKeeper, **overrides: Any) -> UpworkClient:
        http = upwork_http(settings, **overrides)
        return cls(http, settings.upwork_graphql_url, tokens, UpworkOAuth(settings, http))

    # tokens ----------------------------------------------------------------------------------------------------
    def _access_token(self, refused: SecretStr | None = None) -> SecretStr:
        """A usable access token. One that expires soon, or that Upwork just `refused` (401), is refreshed under the
        keeper's lock (one per store in this process, and a database lock across processes): the tokens are read
        again there, so only the first caller refreshes and the others take the tokens it stored."""
        tokens = self._tokens.load()
        if tokens is not None and not self._stale(tokens, refused):
            return tokens.access_token
        with self._tokens.locked_tokens() as stored:
            tokens = stored.tokens
            if tokens is None:
                raise ReauthorizationNeeded(
                    "upwork", "POST", "graphql", None, "not connected: run `timebridge upwork connect`"
                )
            if not self._stale(tokens, refused):
                return tokens.access_token
            try:
                fresh = self._oauth.refresh(tokens.refresh_token)
            except ReauthorizationNeeded:
                stored.needs_reauthorization(tokens.refresh_token)
                raise
            stored.save(fresh)  # the used refresh token is about to die: keep the new one in the same transaction
            return fresh.access_token

    def _stale(self, tokens: TokenSet, refused: SecretStr | None) -> bool:
        if refused is not None and tokens.access_token.get_secret_value() == refused.get_secret_value():
            return True
        return tokens.expires_at - REFRESH_MARGIN <= self._clock()

    # queries ---------------------------------------------------------------------------------------------------
    def query(self, query: str, variables: dict[str, Any] | None = None, tenant: str | None = None) -> dict[str, Any]:
        """Run a GraphQL query (a read, so retried after a timeout or a 5xx); its `data`, or a typed error."""
        token = self._access_token()
        response = self._post(query, variables, tenant, token)
        if response is None:  # 401: the access token was refused; refresh once and try again
            response = self._post(query, variables, tenant, self._access_token(refused=token))
            if response is None:
                raise AuthError("upwork", "POST", "graphql", 401, "Unauthorized even after a token refresh")
        return graphql_data(response)

    def _post(
        self, query: str, variables: dict[str, Any] | None, tenant: str | None, token: SecretStr
    ) -> httpx.Response | None:
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
        if tenant:
            headers["X-Upwork-API-TenantId"] = tenant
        body = {"query": query, "variables": variables or {}}
        try:
            return self.http.request("POST", self._url, json=body, headers=headers, idempotent=not _is_mutation(query))
        except AuthError as error:
            if error.status == 401:
                return None
            raise

    def organizations(self) -> list[UpworkOrganizationInfo]:
        """The organisations the connected user can act for. (`typeTitle` is not asked for: real tokens are often
        denied it, and a denied field aborts the whole query.)"""
        data = self.query(
            "query { companySelector { items { title organizationId organizationType organizationLegacyType } } }"
        )
        return [UpworkOrganizationInfo.model_validate(item) for item in data["companySelector"]["items"]]

    def time_report(
        self, organization_id: str, first_day: date, last_day: date, contract_ids: Sequence[str] = ()
    ) -> Iterator[TimeReportRow]:
        """Daily time rows of an organisation's contracts, 500 per page, following the cursor."""
        query = """query($filter: TimeReportFilter, $pagination: Pagination) {
          contractTimeReport(filter: $filter, pagination: $pagination) {
            edges { node { dateWorkedOn totalHoursWorked memo taskDescription contract { id } freelancer { id name } } }
            pageInfo { endCursor hasNextPage } } }"""
        time_filter: dict[str, Any] = {
            "organizationId_eq": organization_id,
            "timeReportDate_bt": {"rangeStart": first_day.isoformat(), "rangeEnd": last_day.isoformat()},
        }
        if contract_ids:
            time_filter["contractIds"] = list(contract_ids)
        guard = PageGuard(self.http, "graphql contractTimeReport", "POST")
        after = "0"
        while True:
            guard.turn(after)
            variables = {"filter": time_filter, "pagination": {"first": PAGE_SIZE, "after": after}}
            report = self.query(query, variables, tenant=organization_id)["contractTimeReport"]
            for edge in report["edges"]:
                yield TimeReportRow.model_validate(edge["node"])
            if not report["pageInfo"]["hasNextPage"]:
                return
            after = report["pageInfo"]["endCursor"]

    def contracts(self, organization_id: str, contract_ids: Sequence[str]) -> list[UpworkContractInfo]:
        """Contract details (terms with their rate history), 50 ids per request."""
        found: list[UpworkContractInfo] = []
        ids = list(contract_ids)
        for start in range(0, len(ids), 50):
            data = self.query(
                f"query($ids: [ID!]!) {{ contractList(ids: $ids) {{ contracts {{ {CONTRACT_FIELDS} }} }} }}",
                {"ids": ids[start : start + 50]},
                tenant=organization_id,
            )
            found += [UpworkContractInfo.model_validate(c) for c in data["contractList"]["contracts"] if c]
        return found

    def vendor_contract_ids(self, organization_id: str) -> list[str]:
        """Ids of the contracts an agency or freelancer organisation works on (offset paging)."""
        ids: list[str] = []
        guard = PageGuard(self.http, "graphql vendorContracts", "POST")
        offset = 0
        while True:
            guard.turn(offset)
            data = self.query(
                """query($filter: VendorContractSearchFilter!, $paging: ContractPagingInput) {
                  vendorContracts(filter: $filter, paging: $paging) { contracts { id } } }""",
                {"filter": {"vendorId": organization_id}, "paging": {"offset": offset, "limit": VENDOR_PAGE}},
                tenant=organization_id,
            )
            contracts = data["vendorContracts"]["contracts"] or []
            ids += [c["id"] for c in contracts]
            offset += len(contracts)
            if len(contracts) < VENDOR_PAGE:
                return ids

    def current_user(self) -> UpworkPerson:
        """Who the connection acts as."""
        return UpworkPerson.model_validate(self.query("query { user { id name } }")["user"])

    def work_diaries(
        self, organization_id: str, wanted: Sequence[tuple[str, date]]
    ) -> dict[tuple[str, date], list[DiaryCell]]:
        """The cells of many (contract, UTC day) pairs, ten per request as GraphQL aliases (the batch size
        observed to work); a pair without diary gets an empty list."""
        found: dict[tuple[str, date], list[DiaryCell]] = {}
        pairs = list(wanted)
        for start in range(0, len(pairs), DIARY_BATCH):
            batch = pairs[start : start + DIARY_BATCH]
            fields = " ".join(
                f"d{index}: workDiaryContract(workDiaryContractInput: $i{index}) {{ {DIARY_FIELDS} }}"
                for index in range(len(batch))
            )
            params = ", ".join(f"$i{index}: WorkDiaryContractInput!" for index in range(len(batch)))
            variables = {
                f"i{index}": {"contractId": contract_id, "date": day.strftime("%Y%m%d")}
                for index, (contract_id, day) in enumerate(batch)
            }
            data = self.query(f"query({params}) {{ {fields} }}", variables, tenant=organization_id)
            for index, pair in enumerate(batch):
                cells = (data.get(f"d{index}") or {}).get("workDiaryTimeCells") or []
                found[pair] = [_diary_cell(cell) for cell in cells]
        return found


def _is_mutation(document: str) -> bool:
    """Whether a GraphQL document is a mutation (a write: never repeated after an unclear failure)."""
    return re.match(r"\s*mutation\b", document) is not None


def _diary_cell(cell: dict[str, Any]) -> DiaryCell:
    try:
        return DiaryCell(
            start=datetime.fromtimestamp(int(cell["cellDateTime"]["rawValue"]), UTC),
            memo=cell.get("memo"),
            task=(cell.get("task") or {}).get("description"),
            manual=bool(cell.get("manual")),
        )
    except (KeyError, TypeError, ValueError) as error:
        message = f"a work diary cell is malformed: {cell}"
        raise MalformedResponseError("upwork", "POST", "graphql", 200, message) from error


def graphql_data(response: httpx.Response) -> dict[str, Any]:
    """The `data` of a GraphQL answer; errors inside the 200 body become typed errors."""
    try:
        body = response.json()
    except ValueError as error:
        raise MalformedResponseError(
            "upwork", "POST", "graphql", response.status_code, "the answer is not JSON"
        ) from error
    if not isinstance(body, dict):
        raise MalformedResponseError("upwork", "POST", "graphql", response.status_code, "the answer is not an object")
    errors = body.get("errors") or []
    if errors:
        message = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict)) or str(errors)
        kind = UpworkScopeError if "permissions/scopes" in message else UpworkGraphQLError
        if body.get("data") is None or kind is UpworkScopeError:
            raise kind("upwork", "POST", "graphql", response.status_code, message)
    data = body.get("data")
    if not isinstance(data, dict):
        raise MalformedResponseError("upwork", "POST", "graphql", response.status_code, "the answer has no data")
    return data


def upwork_http(settings: Settings, **overrides: Any) -> ApiClient:
    """The HTTP client for Upwork (10 requests per second; the bearer token is added per request)."""
    return build_client(
        "upwork",
        settings.upwork_graphql_url,
        {},
        limits=[RateLimit(10, 1.0)],
        limiter_key=SecretStr(settings.upwork_client_id),
        timeout=settings.http_timeout_seconds,
        retry=retry_policy(settings),
        max_pages=settings.http_max_pages,
        shared_limits=settings.shared_rate_limits,
        **overrides,
    )
