"""Simulator of Upwork's OAuth 2.0 endpoints and GraphQL API, following `../shared/api/upwork.md` (the fact sheet).

One ASGI app serves the paths of all three hosts, so each URL setting points at the same server:
`GET /ab/account-security/oauth2/authorize` and `POST /api/v3/oauth2/token` (www.upwork.com) and `POST /graphql`
(api.upwork.com). The GraphQL endpoint is a real GraphQL server (graphql-core): the SDL below is written from the
fact sheet and the schema dump it cites (type, field and argument names, nullability), queries are parsed and
validated, and only the selected fields come back. Data is seeded through the direct Python API
(`add_organization`, `add_freelancer`, `add_contract`, `change_rate`, `set_status`, `add_work`, `edit_work`,
`seed_demo`); answers are computed from it.

Time: every expiry uses `now()` = `clock()` + `clock_offset`; tests move time with `advance(seconds)`, never by
sleeping. The rate limit uses the real monotonic clock (moving the simulated clock does not refill it).

OAuth 2.0, where the fact sheet is silent:
- The sandbox user consents automatically: authorize answers 302 to `redirect_uri?code=...&state=...` (`state` only
  when given). Set `user_consents = False` to get `?error=access_denied&state=...` instead. `redirect_uri` must equal
  a registered URI exactly; `scope` is ignored (scopes belong to the API key, see `set_scopes`). A
  `response_type` other than `code` redirects with `error=unsupported_response_type` (RFC 6749 4.1.2.1).
- The token endpoint takes only `application/x-www-form-urlencoded` bodies (else 400 `invalid_request`); client
  credentials come as HTTP Basic or as `client_id`/`client_secret` in the body (Basic wins when both are sent).
  Missing or wrong credentials: 401 `invalid_client` with `WWW-Authenticate: Basic`. Unknown grant: 400
  `unsupported_grant_type`. `client_credentials` is supported (the SDK changelog says so): an access token, no
  refresh token.
- Codes are single use, bound to the client and the `redirect_uri` of the authorize request, and expire after 10
  minutes: otherwise 400 `invalid_grant` ("Authorization code is expired or used or not registered").
- Responses: `{"access_token", "refresh_token", "token_type": "Bearer", "expires_in": "86400"}` (`expires_in` is a
  string, as in the SDK's example) with `Cache-Control: no-store`. Tokens are opaque random strings.
- Refresh rotates: a new pair; the new refresh token lives 14 days; the used one's expiry becomes
  min(its expiry, now + `rotated_refresh_grace`), 24 h as the maintainer says, so it keeps working until then (each
  use issues another pair); with `rotated_refresh_grace = 0` it dies at once (strict rotation). Expired, revoked or
  unknown refresh tokens: 400 `{"error": "invalid_grant", "error_description": "Refresh token is expired or revoked
  or not registered"}`. Access tokens stay valid until their own expiry, even after a refresh or a revocation.
- `set_scopes` changes the API key's scopes and takes effect at once for existing tokens (Upwork is reported to
  invalidate tokens instead; call `revoke_refresh_tokens()` too to model that).

GraphQL, where the fact sheet is silent:
- Order of checks: bearer token (else HTTP 401 `{"errors":[{"message":"Unauthorized"}]}`), tenant header, syntax
  (`InvalidSyntax`), validation (`ValidationError`, message "Validation error of type <graphql-java name>: ..."),
  scopes (`ExecutionAborted`, whole query, no `data`), execution. Errors raised while resolving are
  `DataFetchingException` with a `path`; the field is null (or its parent, for non-null fields). The
  classifications are graphql-java's, whose names Upwork's errors show. Malformed request bodies: HTTP 400.
- `X-Upwork-API-TenantId` names an organisation of the user; without it the user's first organisation is used. A
  header naming any other organisation aborts the whole request: HTTP 200 `{"errors":[{"message":"Authorization
  failed","extensions":{"classification":"ExecutionAborted"}}]}`.
- Scopes per root field: `companySelector`, `organization`, `user` need `pub-commons:read:all`;
  `contractTimeReport` needs `pub-time-sheet:read:all`; `contractList`, `vendorContracts`, `contractDetails` need
  `pub-contract:write:all`; `workDays`, `workDiaryContract` need `pub-work-diary-company:read:all`; every `email`
  field (`CurrentUser`, `GenericUser`, `ContractUser`) needs `pub-userdetails:read:all`. A selection needing a
  missing scope aborts the query; the message lists the denied `Type.field`s, sorted.
- Visibility: an agency or freelancer organisation sees the contracts where it is the vendor; a client organisation
  those where it is the client. A contract id the tenant cannot see (or that does not exist) in `contractList`,
  `contractDetails`, `workDays` or `workDiaryContract` is the error "Authorization failed" on that field (as
  observed for `contractList`). `contractTimeReport` needs `organizationId_eq` = the tenant, `vendorContracts`
  needs `vendorId` = the tenant (a vendor organisation); otherwise "Authorization failed".
- Bad input values (dates, cursors, `first` outside 1..500, negative paging) are the error
  "VJCA-6 'Input parameter provided has incorrect value'".
- Dates in `DateTimeRange` and `workDiaryContract.date` may be `YYYY-MM-DD` or `YYYYMMDD` (an ISO date-time counts by
  its date part); both range ends are inclusive. Days are UTC days; `offsetInSeconds` shifts the day boundaries of
  `workDays` and `workDiaryContract` (a cell at UTC instant t belongs to the day of t + offset).
- `contractTimeReport`: one row per (UTC day, contract, task, memo), ordered by day, contract (creation order) and
  the first cell of the group; rows of every contract visible to the tenant (or of `contractIds`). Hours are
  cells / 6, not rounded (clients should take cells = round(hours * 6)); charges are hours x the hourly rate of the
  term in effect that day, rounded to cents; manual cells are the offline part, tracked cells the online part.
  `termId` and `billRate.id` are that term's id, `billRate.value` its rate, `billRate.code` the currency,
  `billRate.offerRef` the contract's offer id. `task` is the task's id (code), `taskDescription` its text; both
  null without a task; `memo` is "" when none was given. `weekWorkedOn` is the Monday (`YYYY-MM-DD`),
  `monthWorkedOn` `YYYY-MM`, `yearWorkedOn` `YYYY`. `team` is the client organisation. The current day is reported
  at once (Upwork's lag of a few hours is not simulated).
- Cursors are 1-based row positions as strings; `after: "0"` (or no `after`) starts at the first row; `endCursor`
  is null on an empty page. Without `pagination` the first 500 rows come back. Cursors are positions, so rows
  added between two pages shift them (as with any offset cursor).
- Contracts: `status` is ACTIVE, PAUSED, ENDED or CANCELLED (invented: the enum values are not in the dump; a
  CANCELLED contract is closed like an ENDED one and has an end date too); pausing, resuming or ending one moves
  its `modifyDate` to that moment;
  `deliveryModel` is MARKETPLACE and `kind` STANDARD (also invented). Dates (`startDate`, `endDate`, terms'
  dates) are `YYYY-MM-DD`; `createDate`/`modifyDate` are ISO-8601 UTC instants with `Z`. A rate change ends the
  previous hourly term the day before the new one starts; an ended contract's last term ends on its end date.
  `hourlyLimits` has one entry (`weeklyLimit` as a string, default "40"). `vendorTeam`/`clientTeam` are the
  organisations themselves (no sub-teams are simulated; `childOrganizations` is empty). `hiringManager` is the
  sandbox user when it is a member of the client organisation, else null. `contractDetails(date:)` is ignored.
- `vendorContracts`: contracts of the vendor, in creation order; filters `startDateBefore` (start < date),
  `endDateAfter` (open-ended or end > date), `contractStatuses`; paging `limit` (default 10) and `offset` (default
  0); `paging.total` (a field we added: the dump has `includeTotalCount` but no field to carry the count) is set
  only when `includeTotalCount` is true. `terms` and `hourlyLimits` are null unless `options.addTerms` /
  `options.addHourLimits` is true (the options' descriptions say so).
- Work diary: `cellDateTime.rawValue` is the cell's start in epoch seconds (as a string), `displayValue` its
  `HH:MM` in the requested offset. Tracked cells have a snapshot (a few minutes into the cell), a screenshot URL
  under `sandbox.upwork.invalid`, an activity level 0..100 and event counts (deterministic per cell); manual cells
  have none of these. `overtime` is false; `useLegacy` is ignored; `timezoneOffset` is the offset in seconds;
  `archivingDateTime` is the day + 365 days. A contract seeded with `diary_available=False` returns an empty
  `workDiaryTimeCells` list for every day, while `workDays` and `contractTimeReport` still show its time (the
  backfill then falls back to the daily totals).
- HTTP 429 (`Retry-After` in whole seconds, at least 1) above `requests_per_second` requests in any second, on
  every path. Injected faults (and bodies that are not JSON) answer `{"errors":[{"message":"<status phrase>"}]}`,
  e.g. "Service Unavailable".
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from itertools import count
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_schema,
    execute_sync,
    parse,
    specified_rules,
    validate,
    visit,
)

from sandbox.core import FaultRule, SimError, SimRequest, SimResponse, Simulator, SlidingWindowLimit, route

AUTHORIZE_PATH = "/ab/account-security/oauth2/authorize"
TOKEN_PATH = "/api/v3/oauth2/token"
GRAPHQL_PATH = "/graphql"

COMMONS = "pub-commons:read:all"
TIME_SHEET = "pub-time-sheet:read:all"
CONTRACT = "pub-contract:write:all"
WORK_DIARY = "pub-work-diary-company:read:all"
USER_DETAILS = "pub-userdetails:read:all"
ALL_SCOPES = frozenset({COMMONS, TIME_SHEET, CONTRACT, WORK_DIARY, USER_DETAILS})
ROOT_FIELD_SCOPES = {
    "companySelector": COMMONS,
    "organization": COMMONS,
    "user": COMMONS,
    "contractTimeReport": TIME_SHEET,
    "contractList": CONTRACT,
    "vendorContracts": CONTRACT,
    "contractDetails": CONTRACT,
    "workDays": WORK_DIARY,
    "workDiaryContract": WORK_DIARY,
}
EMAIL_TYPES = frozenset({"CurrentUser", "GenericUser", "ContractUser"})

CODE_LIFETIME = 600  # seconds: "expires after 10 minutes"
ROTATED_REFRESH_GRACE = 86400  # the maintainer: the old refresh token's expiry becomes now + 24 hours
CELL_SECONDS = 600
MAX_FIRST = 500
STATUSES = ("ACTIVE", "PAUSED", "ENDED", "CANCELLED")
CLOSED = ("ENDED", "CANCELLED")  # closed for good, with an end date
ORG_KINDS = {
    # kind: (type, legacyType, companySelector type, companySelector legacy type, typeTitle)
    "agency": ("BUSINESS", "VENDOR", "Business", "Vendor", "Agency"),
    "client": ("BUSINESS", "CLIENT", "Business", "Client", "Client"),
    "freelancer": ("SOLE_PROPRIETOR", "VENDOR", "SoleProprietor", "Vendor", "Freelancer"),
}
VJCA_6 = "VJCA-6 'Input parameter provided has incorrect value'"
AUTHORIZATION_FAILED = "Authorization failed"
REFRESH_INVALID = "Refresh token is expired or revoked or not registered"
CODE_INVALID = "Authorization code is expired or used or not registered"
MEDIA_HOST = "https://sandbox.upwork.invalid"
CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}

# graphql-java's names for what each graphql-core validation rule finds (Upwork runs graphql-java)
VALIDATION_KINDS = {
    "ExecutableDefinitionsRule": "NonExecutableDefinition",
    "KnownOperationTypesRule": "UnknownOperation",
    "UniqueOperationNamesRule": "DuplicateOperationName",
    "LoneAnonymousOperationRule": "LoneAnonymousOperationViolation",
    "KnownTypeNamesRule": "UnknownType",
    "FragmentsOnCompositeTypesRule": "InlineFragmentTypeConditionInvalid",
    "VariablesAreInputTypesRule": "NonInputTypeOnVariable",
    "ScalarLeafsRule": "SubSelectionRequired",
    "FieldsOnCorrectTypeRule": "FieldUndefined",
    "UniqueFragmentNamesRule": "DuplicateFragmentName",
    "KnownFragmentNamesRule": "UndefinedFragment",
    "NoUnusedFragmentsRule": "UnusedFragment",
    "PossibleFragmentSpreadsRule": "InvalidFragmentType",
    "NoFragmentCyclesRule": "FragmentCycle",
    "UniqueVariableNamesRule": "DuplicateVariableName",
    "NoUndefinedVariablesRule": "UndefinedVariable",
    "NoUnusedVariablesRule": "UnusedVariable",
    "KnownDirectivesRule": "UnknownDirective",
    "UniqueDirectivesPerLocationRule": "DuplicateDirectiveName",
    "KnownArgumentNamesRule": "UnknownArgument",
    "UniqueArgumentNamesRule": "DuplicateArgumentNames",
    "ValuesOfCorrectTypeRule": "WrongType",
    "ProvidedRequiredArgumentsRule": "MissingFieldArgument",
    "VariablesInAllowedPositionRule": "VariableTypeMismatch",
    "OverlappingFieldsCanBeMergedRule": "FieldsConflict",
    "UniqueInputFieldNamesRule": "DuplicateInputField",
}

SCHEMA_SDL = """
schema { query: Query }

type Query {
  "Company selector provides information on companies that user can select"
  companySelector: CompanySelector
  "The organization selected by the X-Upwork-API-TenantId header (default: the user's first organization)"
  organization: CurrentOrganization
  "The user the access token belongs to"
  user: CurrentUser
  "Time reports of the organization, one row per date, contract, task and memo"
  contractTimeReport(filter: TimeReportFilter, pagination: Pagination): TimeReportConnection!
  contractDetails(id: ID!, date: String): ContractDetails!
  contractList(ids: [ID!]!): ContractList
  vendorContracts(
    filter: VendorContractSearchFilter!
    options: ContractOptionsInput
    paging: ContractPagingInput
  ): ContractSearchResults
  workDays(workdaysInput: WorkdaysInput!): WorkdayResult
  workDiaryContract(workDiaryContractInput: WorkDiaryContractInput!): WorkDiaryContract
}

enum CompanySelectorOrganizationType { Business SoleProprietor }
enum CompanySelectorOrganizationLegacyType { Client Vendor }
enum CompanySelectorOrganizationEnterpriseType { Standard Enterprise }

type CompanySelector {
  items: [CompanySelectorItem!]!
}

type CompanySelectorItem {
  title: String!
  photoUrl: String
  "The UID of the organization: the value of the X-Upwork-API-TenantId header"
  organizationId: ID!
  organizationRid: String
  organizationType: CompanySelectorOrganizationType
  organizationLegacyType: CompanySelectorOrganizationLegacyType
  organizationEnterpriseType: CompanySelectorOrganizationEnterpriseType
  legacyEnterpriseOrganization: Boolean
  "Contains organization type like Agency or Client"
  typeTitle: String
}

enum OrganizationType { BUSINESS SOLE_PROPRIETOR }
enum OrganizationLegacyType { CLIENT VENDOR }

type OrganizationFlag {
  client: Boolean
  vendor: Boolean
  agency: Boolean
  individual: Boolean
}

type CurrentOrganization {
  id: ID!
  rid: String
  legacyId: String
  name: String
  type: OrganizationType
  legacyType: OrganizationLegacyType
  flag: OrganizationFlag
  parentOrganization: CurrentOrganization
  active: Boolean
  hidden: Boolean
  childOrganizations: [CurrentOrganization!]
  photoUrl: String
  creationDate: String
}

type GenericOrganization {
  id: ID!
  rid: String
  legacyId: String
  name: String
  type: OrganizationType
  legacyType: OrganizationLegacyType
  flag: OrganizationFlag
  parentOrganization: GenericOrganization
  active: Boolean
  hidden: Boolean
  photoUrl: String
  creationDate: String
}

type CurrentUser {
  id: ID!
  nid: String!
  rid: String!
  email: String
  "First name + abbreviated last name, e.g. John Smith -> John S."
  name: String
  photoUrl: String
  ciphertext: String
}

type GenericUser {
  id: ID!
  nid: String!
  rid: String!
  name: String
  firstName: String
  lastName: String
  photoUrl: String
  publicUrl: String
  email: String
  ciphertext: String
}

type ContractUser {
  id: ID!
  rid: String!
  name: String
  photoUrl: String
  firstName: String
  lastName: String
  email: String
}

type Money {
  "Float point as a string, for example \\"1.23\\""
  rawValue: String!
  currency: String!
  displayValue: String!
}

enum ContractStatus { ACTIVE PAUSED ENDED CANCELLED }
enum DeliveryModel { MARKETPLACE CATALOG }
enum ContractKind { STANDARD WEEKLY_RETAINER PAYROLL }
enum JobType { HOURLY FIXED STIPEND }

type ContractDetails {
  id: ID!
  title: String
  status: ContractStatus
  deliveryModel: DeliveryModel
  kind: ContractKind
  isPtc: Boolean
  createDate: String
  modifyDate: String
  startDate: String
  endDate: String
  offerId: String
  freelancer: ContractUser!
  vendorOrganization: GenericOrganization!
  vendorTeam: GenericOrganization!
  clientOrganization: GenericOrganization!
  clientTeam: GenericOrganization!
  hiringManager: ContractUser
  metadata: ContractMetadata
  hourlyLimits: [HourlyLimit!]
  terms: ContractTerms
  projectId: String
}

type ContractMetadata {
  agencyContract: Boolean
}

type HourlyLimit {
  id: ID!
  weeklyLimit: String
  createDate: String
  modifyDate: String
  startDate: String
  endDate: String
}

type ContractTerms {
  fixedPriceTerms: [FixedPriceContractTerm!]
  hourlyTerms: [HourlyContractTerm!]
}

type HourlyContractTerm {
  id: ID!
  hourlyRate: Money
  createDate: String
  modifyDate: String
  changeDate: String
  startDate: String
  endDate: String
  manualTimeAllowed: Boolean
  jobType: JobType
}

type FixedPriceContractTerm {
  id: ID!
  fpCharge: Money
  fixedAmount: Money
  createDate: String
  modifyDate: String
  changeDate: String
  startDate: String
  endDate: String
  jobType: JobType
}

type ContractList {
  contracts: [ContractDetails!]
}

type ContractSearchResults {
  paging: ContractPaging
  contracts: [ContractDetails!]
}

type ContractPaging {
  limit: Int
  offset: Int
  "Total number of matching contracts; only with paging.includeTotalCount"
  total: Int
}

input VendorContractSearchFilter {
  vendorId: String!
  startDateBefore: String
  endDateAfter: String
  contractStatuses: [ContractStatus!]
}

input ContractOptionsInput {
  addTerms: Boolean = false
  addHourLimits: Boolean = false
}

input ContractPagingInput {
  limit: Int = 10
  offset: Int = 0
  includeTotalCount: Boolean = false
}

"Input range for date-time values (ISO-8601 strings)"
input DateTimeRange {
  rangeStart: String
  rangeEnd: String
}

input TimeReportFilter {
  organizationId_eq: String!
  timeReportDate_bt: DateTimeRange!
  contractIds: [String]
}

input Pagination {
  "after: \\"0\\" will indicate \\"from the very first element\\""
  after: String
  first: Int!
}

type PageInfo {
  endCursor: String
  hasNextPage: Boolean
}

type TimeReportConnection {
  totalCount: Int
  edges: [TimeReportEdge!]!
  pageInfo: PageInfo
}

type TimeReportEdge {
  node: TimeReport!
  cursor: String!
}

type TimeReport {
  dateWorkedOn: String!
  weekWorkedOn: String!
  monthWorkedOn: String!
  yearWorkedOn: String!
  freelancer: GenericUser
  team: GenericOrganization
  contract: ContractDetails
  termId: String
  task: String
  taskDescription: String
  memo: String
  totalHoursWorked: Float
  totalCharges: Float
  totalOnlineHoursWorked: Float
  totalOnlineCharge: Float
  totalOfflineHoursWorked: Float
  totalOfflineCharge: Float
  billRate: BillRate
}

type BillRate {
  id: ID!
  value: Float!
  code: String!
  offerRef: String!
}

input WorkdaysInput {
  contractIds: [String!]!
  timeRange: DateTimeRange!
  offsetInSeconds: Int
}

type WorkdayResult {
  workDays: [String!]
}

input WorkDiaryContractInput {
  contractId: String!
  "format: yyyymmdd"
  date: String!
  offsetInSeconds: Int
  useLegacy: Boolean
}

type WorkDiaryContract {
  workDiaryMetadata: WorkDiaryMetadata
  workDiaryTimeCells: [WorkDiaryTimeCell!]!
}

type WorkDiaryMetadata {
  timezoneOffset: String!
  archivingDateTime: String!
}

type WorkDiaryTask {
  id: ID!
  description: String
}

type DateTime {
  rawValue: String!
  displayValue: String!
}

"10-minute billable time period with activity tracking and screenshots"
type WorkDiaryTimeCell {
  cellDateTime: DateTime
  snapshotDateTime: DateTime
  overtime: Boolean
  manual: Boolean
  activityLevel: Int
  memo: String
  task: WorkDiaryTask
  mouseEventsCount: Int
  keyboardEventsCount: Int
  activeWindowTitle: String
  hideScreenshots: Boolean
  hasScreenshot: Boolean
  screenshotImageUrl: String
  screenshotImageUrlMedium: String
  screenshotImageThumbnail: String
  webcamEnabled: Boolean
  snapshotExpired: Boolean
}
"""

SCHEMA = build_schema(SCHEMA_SDL)

# id ranges per kind, so ids look like Upwork's (19-digit UIDs, 7-digit RIDs, 8-digit contract ids)
ORG_ID_BASE = 1_640_000_000_000_000_000
USER_ID_BASE = 1_180_000_000_000_000_000
RID_BASE = 2_366_000
LEGACY_ID_BASE = 9_100_000
CONTRACT_ID_BASE = 41_815_400
TERM_ID_BASE = 52_300_000
OFFER_ID_BASE = 61_700_000
TASK_ID_BASE = 7_000


# --- records --------------------------------------------------------------------------------------------------------
@dataclass
class _Org:
    id: str
    rid: str
    legacy_id: str
    name: str
    kind: str
    member: bool
    created: float


@dataclass
class _Person:
    id: str
    nid: str
    rid: str
    first_name: str
    last_name: str
    email: str | None
    ciphertext: str

    @property
    def short_name(self) -> str:
        """ "First name + abbreviated last name, e.g. John Smith -> John S."."""
        return f"{self.first_name} {self.last_name[:1]}." if self.last_name else self.first_name


@dataclass
class _Term:
    id: str
    amount: float
    start: date
    end: date | None
    created: float


@dataclass
class _Cell:
    manual: bool
    memo: str
    task: str | None  # the task's description; its id comes from the simulator's task registry


@dataclass
class _Contract:
    id: str
    title: str
    vendor_org: str
    client_org: str
    freelancer: str
    status: str
    currency: str
    start: date
    end: date | None
    diary_available: bool
    weekly_limit: int | None
    offer_id: str
    limit_id: str
    created: float
    modified: float
    hourly_terms: list[_Term] = field(default_factory=list)
    fixed_term: _Term | None = None
    cells: dict[int, _Cell] = field(default_factory=dict)  # by start instant, epoch seconds

    @property
    def hourly(self) -> bool:
        return bool(self.hourly_terms)

    def term_on(self, day: date) -> _Term:
        """The hourly term in effect on `day` (the first one for days before it started)."""
        for term in reversed(self.hourly_terms):
            if term.start <= day:
                return term
        return self.hourly_terms[0]


@dataclass
class _Grant:
    """A token or code: who it belongs to, until when, and the scopes it was limited to (None: the key's)."""

    client_id: str
    expires_at: float
    scopes: frozenset[str] | None
    revoked: bool = False
    used: bool = False
    redirect_uri: str | None = None


class _Aborted(Exception):
    """The whole GraphQL request is refused with these errors (HTTP 200, no data)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"])
        self.body = {"errors": errors}

    @classmethod
    def because(cls, message: str) -> _Aborted:
        return cls([{"message": message, "extensions": {"classification": "ExecutionAborted"}}])


# --- helpers --------------------------------------------------------------------------------------------------------
def _iso_instant(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day_start(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _utc_day(epoch: int) -> date:
    return datetime.fromtimestamp(epoch, UTC).date()


def _parse_day(text: Any) -> date:
    """A date from `YYYY-MM-DD`, `YYYYMMDD` or an ISO date-time (its date part); else VJCA-6."""
    if not isinstance(text, str) or not text.strip():
        raise GraphQLError(VJCA_6)
    value = text.strip()
    try:
        if len(value) == 8 and value.isdigit():
            return date(int(value[:4]), int(value[4:6]), int(value[6:]))
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError as exc:
        raise GraphQLError(VJCA_6) from exc


def _day_range(time_range: dict[str, Any] | None) -> tuple[date, date]:
    if not time_range:
        raise GraphQLError(VJCA_6)
    return _parse_day(time_range.get("rangeStart")), _parse_day(time_range.get("rangeEnd"))


def _money(amount: float, currency: str) -> dict[str, str]:
    sign = CURRENCY_SIGNS.get(currency)
    display = f"{sign}{amount:,.2f}" if sign else f"{amount:,.2f} {currency}"
    return {"rawValue": f"{amount:.2f}", "currency": currency, "displayValue": display}


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("ß", "ss")).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _stable(*parts: object) -> int:
    """A deterministic pseudo-random number for a cell (Python's hash() changes between runs)."""
    return zlib.crc32(":".join(str(part) for part in parts).encode())


class _FieldCollector(Visitor):
    """Every (parent type, field) a document selects, fragments included."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.fields: set[tuple[str, str]] = set()

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        parent = self.type_info.get_parent_type()
        if parent is not None:
            self.fields.add((parent.name, node.name.value))


def _format_error(error: GraphQLError, classification: str, message: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message or error.message}
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        body["path"] = list(error.path)
    body["extensions"] = {"classification": classification, **(error.extensions or {})}
    return body


# --- the simulator --------------------------------------------------------------------------------------------------
class UpworkSimulator(Simulator):
    """Upwork's OAuth endpoints and GraphQL API for one sandbox user, in memory, with a direct Python API for
    seeding. Starts with the sandbox user ("Alex Sandbox") and no organisations."""

    base_path = ""

    def __init__(
        self,
        client_id: str = "upwork-sandbox-client",
        client_secret: str = "upwork-sandbox-secret",
        redirect_uris: Iterable[str] = ("http://127.0.0.1:8765/callback",),
        requests_per_second: int | None = 10,
        clock: Callable[[], float] = time.time,
        access_token_lifetime: int = 86400,
        refresh_token_lifetime: int = 14 * 86400,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = tuple(redirect_uris)
        self.clock = clock
        self.clock_offset = 0.0
        self.access_token_lifetime = access_token_lifetime
        self.refresh_token_lifetime = refresh_token_lifetime
        self.user_consents = True
        self.rotated_refresh_grace: float = ROTATED_REFRESH_GRACE
        self.scopes: frozenset[str] = ALL_SCOPES
        if requests_per_second:
            self.limits.append(SlidingWindowLimit(requests_per_second, 1.0))
        self._codes: dict[str, _Grant] = {}
        self._access_tokens: dict[str, _Grant] = {}
        self._refresh_tokens: dict[str, _Grant] = {}
        self._seq = count(1)
        self._orgs: dict[str, _Org] = {}
        self._people: dict[str, _Person] = {}
        self._contracts: dict[str, _Contract] = {}
        self._task_ids: dict[str, str] = {}  # task description -> task id
        self.me = self._new_person("Alex", "Sandbox", "alex.sandbox@pixelwerk.example")

    # --- time -------------------------------------------------------------------------------------------------------
    def now(self) -> float:
        """The simulated time (epoch seconds): the clock plus `clock_offset`."""
        return self.clock() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the simulated time forward (token and code expiry), without sleeping."""
        self.clock_offset += seconds

    def today(self) -> date:
        return _utc_day(int(self.now()))

    # --- core hooks -------------------------------------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], raw: bytes
    ) -> tuple[SimResponse, SimRequest | None, FaultRule | None]:
        """Token requests are form-encoded: hand their fields to the core as a JSON object (the core parses JSON
        bodies only); the handler still checks the Content-Type the client sent."""
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if path == TOKEN_PATH and raw and content_type == "application/x-www-form-urlencoded":
            try:
                form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                form = {}
            raw = json.dumps({name: values[0] for name, values in form.items()}).encode()
        return super().handle(method, path, query, headers, raw)

    def authenticate(self, request: SimRequest) -> None:
        """Only GraphQL needs a bearer token; the OAuth endpoints check client credentials themselves."""
        if request.route == GRAPHQL_PATH:
            self._access_grant(request)

    def rate_limited(self, retry_after: float) -> SimError:
        return SimError(
            429, {"errors": [{"message": "Too Many Requests"}]}, {"Retry-After": str(max(1, math.ceil(retry_after)))}
        )

    def error_body(self, status: int) -> Any:
        """The body of an injected fault or of a request the core refuses (malformed JSON): the status phrase."""
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = f"HTTP {status}"
        return {"errors": [{"message": phrase}]}

    def not_found(self) -> SimError:
        return SimError(404, {"errors": [{"message": "Not Found"}]})

    # --- OAuth 2.0 --------------------------------------------------------------------------------------------------
    @route("GET", AUTHORIZE_PATH)
    def _authorize(self, request: SimRequest) -> SimResponse:
        if request.param("client_id") != self.client_id:
            raise SimError(400, {"error": "invalid_client", "error_description": "Unknown client_id"})
        redirect_uri = request.param("redirect_uri")
        if redirect_uri not in self.redirect_uris:
            description = "redirect_uri is missing or not registered for this client"
            raise SimError(400, {"error": "invalid_request", "error_description": description})
        state = request.param("state")
        if request.param("response_type") != "code":
            return self._redirect(redirect_uri, {"error": "unsupported_response_type"}, state)
        if not self.user_consents:
            return self._redirect(redirect_uri, {"error": "access_denied"}, state)
        code = secrets.token_urlsafe(16)
        self._codes[code] = _Grant(self.client_id, self.now() + CODE_LIFETIME, None, redirect_uri=redirect_uri)
        return self._redirect(redirect_uri, {"code": code}, state)

    @staticmethod
    def _redirect(redirect_uri: str, params: dict[str, str], state: str | None) -> SimResponse:
        if state is not None:
            params = {**params, "state": state}
        separator = "&" if "?" in redirect_uri else "?"
        return SimResponse(302, None, {"Location": f"{redirect_uri}{separator}{urlencode(params)}"}, empty=True)

    @route("POST", TOKEN_PATH)
    def _token(self, request: SimRequest) -> SimResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded" or not isinstance(request.body, dict):
            description = "The token request must be application/x-www-form-urlencoded"
            raise SimError(400, {"error": "invalid_request", "error_description": description})
        form: dict[str, str] = request.body
        self._check_client(request, form)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise SimError(400, {"error": "invalid_request", "error_description": "grant_type is missing"})
        if grant_type == "authorization_code":
            scopes = self._redeem_code(form)
            body = self._issue(scopes)
        elif grant_type == "refresh_token":
            body = self._rotate(form.get("refresh_token", ""))
        elif grant_type == "client_credentials":
            body = self._issue(None, with_refresh=False)
        else:
            description = f"grant_type {grant_type!r} is not supported"
            raise SimError(400, {"error": "unsupported_grant_type", "error_description": description})
        return SimResponse(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _check_client(self, request: SimRequest, form: dict[str, str]) -> None:
        """HTTP Basic (the SDK's way) or `client_id`/`client_secret` in the body (TRYAGI's way)."""
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            user, _, password = decoded.partition(":")
            client_id, client_secret = unquote_plus(user), unquote_plus(password)  # RFC 6749 2.3.1
        if client_id != self.client_id or not client_secret or client_secret != self.client_secret:
            raise SimError(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                {"WWW-Authenticate": 'Basic realm="upwork"'},
            )

    def _redeem_code(self, form: dict[str, str]) -> frozenset[str] | None:
        grant = self._codes.get(form.get("code", ""))
        if grant is None or grant.used or grant.expires_at <= self.now() or grant.client_id != self.client_id:
            raise SimError(400, {"error": "invalid_grant", "error_description": CODE_INVALID})
        if form.get("redirect_uri") != grant.redirect_uri:
            description = "redirect_uri does not match the one of the authorization request"
            raise SimError(400, {"error": "invalid_grant", "error_description": description})
        grant.used = True
        return grant.scopes

    def _rotate(self, refresh_token: str) -> dict[str, str]:
        grant = self._refresh_tokens.get(refresh_token)
        now = self.now()
        if grant is None or grant.revoked or grant.expires_at <= now or grant.client_id != self.client_id:
            raise SimError(400, {"error": "invalid_grant", "error_description": REFRESH_INVALID})
        grant.expires_at = min(grant.expires_at, now + self.rotated_refresh_grace)
        return self._issue(grant.scopes)

    def _issue(self, scopes: frozenset[str] | None, *, with_refresh: bool = True) -> dict[str, str]:
        now = self.now()
        access_token = secrets.token_urlsafe(32)
        self._access_tokens[access_token] = _Grant(self.client_id, now + self.access_token_lifetime, scopes)
        body = {"access_token": access_token, "token_type": "Bearer", "expires_in": str(self.access_token_lifetime)}
        if with_refresh:
            refresh_token = secrets.token_urlsafe(32)
            self._refresh_tokens[refresh_token] = _Grant(self.client_id, now + self.refresh_token_lifetime, scopes)
            body["refresh_token"] = refresh_token
        return body

    def _access_grant(self, request: SimRequest) -> _Grant:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self.lock:
            grant = self._access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            if grant is None or grant.revoked or grant.expires_at <= self.now():
                raise SimError(
                    401, {"errors": [{"message": "Unauthorized"}]}, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
                )
            return grant

    # --- OAuth direct API -------------------------------------------------------------------------------------------
    def issue_tokens(self, scopes: Iterable[str] | None = None) -> dict[str, str]:
        """A token pair for the sandbox user without the browser dance (the token endpoint's answer). `scopes`
        narrows what the tokens may use below the key's scopes; None: whatever the key has."""
        with self.lock:
            return self._issue(frozenset(scopes) if scopes is not None else None)

    def revoke_refresh_tokens(self) -> None:
        """Revoke every refresh token (the user disconnected the app); access tokens run out on their own."""
        with self.lock:
            for grant in self._refresh_tokens.values():
                grant.revoked = True

    def set_scopes(self, scopes: Iterable[str]) -> None:
        """The scopes granted to the API key (effective at once for existing tokens)."""
        with self.lock:
            self.scopes = frozenset(scopes)

    # --- GraphQL ----------------------------------------------------------------------------------------------------
    @route("POST", GRAPHQL_PATH)
    def _graphql(self, request: SimRequest) -> Any:
        grant = self._access_grant(request)
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise SimError(400, {"errors": [{"message": "The body must be a JSON object with a 'query' string"}]})
        variables = body.get("variables")
        operation_name = body.get("operationName")
        if variables is not None and not isinstance(variables, dict):
            raise SimError(400, {"errors": [{"message": "'variables' must be a JSON object"}]})
        try:
            tenant = self._tenant(request)
            document = self._parse(body["query"])
            self._check_scopes(document, self.scopes & grant.scopes if grant.scopes is not None else self.scopes)
        except _Aborted as aborted:
            return aborted.body
        result = execute_sync(
            SCHEMA,
            document,
            root_value=_Resolvers(self, tenant),
            variable_values=variables,
            operation_name=operation_name if isinstance(operation_name, str) else None,
        )
        if not result.errors:
            return {"data": result.data}
        if result.data is None and all(not error.path for error in result.errors):
            # a request error (variables, operation name): nothing was executed
            return {"errors": [_format_error(error, "ValidationError") for error in result.errors]}
        return {
            "data": result.data,
            "errors": [_format_error(error, "DataFetchingException") for error in result.errors],
        }

    def _tenant(self, request: SimRequest) -> _Org | None:
        tenant_id = request.headers.get("x-upwork-api-tenantid", "").strip()
        if not tenant_id:
            return next((org for org in self._orgs.values() if org.member), None)
        org = self._orgs.get(tenant_id)
        if org is None or not org.member:
            raise _Aborted.because(AUTHORIZATION_FAILED)
        return org

    @staticmethod
    def _parse(query: str) -> DocumentNode:
        """Parse and validate; errors abort the request with graphql-java's classifications."""
        try:
            document = parse(query)
        except GraphQLError as error:
            raise _Aborted([_format_error(error, "InvalidSyntax")]) from error
        found = validate(SCHEMA, document)
        if not found:
            return document
        errors = []
        for rule in specified_rules:  # once more rule by rule, to name the kind of each error as graphql-java does
            kind = VALIDATION_KINDS.get(rule.__name__, rule.__name__.removesuffix("Rule"))
            for error in validate(SCHEMA, document, [rule]):
                message = f"Validation error of type {kind}: {error.message}"
                errors.append(_format_error(error, "ValidationError", message))
        raise _Aborted(errors or [_format_error(error, "ValidationError") for error in found])

    @staticmethod
    def _check_scopes(document: DocumentNode, scopes: frozenset[str]) -> None:
        type_info = TypeInfo(SCHEMA)
        collector = _FieldCollector(type_info)
        visit(document, TypeInfoVisitor(type_info, collector))
        denied = set()
        for type_name, field_name in collector.fields:
            if type_name == "Query" and ROOT_FIELD_SCOPES.get(field_name, COMMONS) not in scopes:
                if not field_name.startswith("__"):
                    denied.add(f"Query.{field_name}")
            elif field_name == "email" and type_name in EMAIL_TYPES and USER_DETAILS not in scopes:
                denied.add(f"{type_name}.email")
        if denied:
            raise _Aborted.because(
                "The client or authentication token doesn't have enough oauth2 permissions/scopes to access: "
                f"[{', '.join(sorted(denied))}]."
            )

    # --- seeding: organisations and people --------------------------------------------------------------------------
    def _id(self, base: int) -> str:
        return str(base + next(self._seq))

    def _new_person(self, first_name: str, last_name: str, email: str | None) -> _Person:
        nid = _ascii_slug(first_name + last_name) or "user"
        taken = {person.nid for person in self._people.values()}
        suffix = count(2)
        unique = nid
        while unique in taken:
            unique = f"{nid}{next(suffix)}"
        person_id = self._id(USER_ID_BASE)
        person = _Person(
            person_id, unique, self._id(RID_BASE), first_name, last_name, email, f"~01{_stable(person_id):08x}"
        )
        self._people[person.id] = person
        return person

    def add_organization(self, name: str, kind: str, *, member: bool = True) -> dict[str, Any]:
        """An organisation ("agency", "client" or "freelancer"); the sandbox user is a member unless `member` is
        False (an outside party of some contract, invisible to the user's tenant header)."""
        if kind not in ORG_KINDS:
            raise ValueError(f"organisation kind must be one of {', '.join(ORG_KINDS)}, not {kind!r}")
        with self.lock:
            org = _Org(
                self._id(ORG_ID_BASE), self._id(RID_BASE), self._id(LEGACY_ID_BASE), name, kind, member, self.now()
            )
            self._orgs[org.id] = org
            return self._organization_summary(org)

    def add_freelancer(self, first_name: str, last_name: str, email: str | None = None) -> dict[str, Any]:
        """A freelancer (an Upwork user); `email` None means Upwork shows none."""
        with self.lock:
            return _person_view(self._new_person(first_name, last_name, email))

    def organizations(self) -> list[dict[str, Any]]:
        """Every organisation, in creation order (members and outside parties)."""
        with self.lock:
            return [self._organization_summary(org) for org in self._orgs.values()]

    def freelancers(self) -> list[dict[str, Any]]:
        """Every freelancer (not the sandbox user), in creation order."""
        with self.lock:
            return [_person_view(person) for person in self._people.values() if person is not self.me]

    def contracts(self) -> list[dict[str, Any]]:
        """Every contract as `contractDetails` shows it, in creation order."""
        with self.lock:
            return [self._contract_view(contract) for contract in self._contracts.values()]

    @staticmethod
    def _organization_summary(org: _Org) -> dict[str, Any]:
        org_type, legacy_type, _, _, title = ORG_KINDS[org.kind]
        return {
            "id": org.id,
            "rid": org.rid,
            "name": org.name,
            "kind": org.kind,
            "type": org_type,
            "legacyType": legacy_type,
            "typeTitle": title,
            "member": org.member,
        }

    # --- seeding: contracts -----------------------------------------------------------------------------------------
    def add_contract(
        self,
        *,
        vendor_org: str,
        client_org: str,
        freelancer: str,
        title: str,
        hourly_rate: float | None = None,
        fixed_amount: float | None = None,
        start: date,
        status: str = "ACTIVE",
        currency: str = "USD",
        diary_available: bool = True,
        end: date | None = None,
        weekly_limit: int | None = 40,
    ) -> dict[str, Any]:
        """A contract between a vendor organisation (agency or freelancer) and a client organisation: hourly with
        `hourly_rate`, fixed-price with `fixed_amount`. An ENDED or CANCELLED contract ends on `end` (default:
        today)."""
        if (hourly_rate is None) == (fixed_amount is None):
            raise ValueError(f"contract {title!r}: give exactly one of hourly_rate and fixed_amount")
        if status not in STATUSES:
            raise ValueError(f"contract {title!r}: status must be one of {', '.join(STATUSES)}, not {status!r}")
        with self.lock:
            vendor = self._org(vendor_org)
            client = self._org(client_org)
            if vendor.kind == "client":
                raise ValueError(f"{vendor.name} is a client organisation; a vendor must be an agency or freelancer")
            if client.kind != "client":
                raise ValueError(f"{client.name} is not a client organisation")
            person = self._person(freelancer)
            if status in CLOSED:
                end = end or self.today()
            elif end is not None:
                raise ValueError(f"contract {title!r}: only an ENDED or CANCELLED contract has an end date")
            if end is not None and end < start:
                raise ValueError(f"contract {title!r}: end {end} is before start {start}")
            created = float(_day_start(start))
            contract = _Contract(
                id=self._id(CONTRACT_ID_BASE),
                title=title,
                vendor_org=vendor.id,
                client_org=client.id,
                freelancer=person.id,
                status=status,
                currency=currency,
                start=start,
                end=end,
                diary_available=diary_available,
                weekly_limit=weekly_limit if hourly_rate is not None else None,
                offer_id=self._id(OFFER_ID_BASE),
                limit_id=self._id(TERM_ID_BASE),
                created=created,
                modified=created,
            )
            if hourly_rate is not None:
                contract.hourly_terms.append(_Term(self._id(TERM_ID_BASE), float(hourly_rate), start, end, created))
            else:
                contract.fixed_term = _Term(self._id(TERM_ID_BASE), float(fixed_amount or 0), start, end, created)
            self._contracts[contract.id] = contract
            return self._contract_view(contract)

    def change_rate(self, contract_id: str, hourly_rate: float, effective: date) -> None:
        """A new hourly term from `effective`; the previous term ends the day before."""
        with self.lock:
            contract = self._hourly(contract_id)
            current = contract.hourly_terms[-1]
            if effective <= current.start:
                raise ValueError(
                    f"contract {contract_id}: a rate change must start after the current term's start {current.start}"
                )
            if contract.end is not None and effective > contract.end:
                raise ValueError(f"contract {contract_id} ended on {contract.end}")
            now = self.now()
            current.end = effective - timedelta(days=1)
            contract.hourly_terms.append(
                _Term(self._id(TERM_ID_BASE), float(hourly_rate), effective, contract.end, now)
            )
            contract.modified = max(contract.modified, now)

    def set_status(self, contract_id: str, status: str, *, end: date | None = None) -> None:
        """Pause, resume, end or cancel a contract; ENDED and CANCELLED set its end date (`end`, default today).
        Closed contracts cannot be restarted (as on Upwork)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        with self.lock:
            contract = self._contract(contract_id)
            if contract.status in CLOSED and status != contract.status:
                raise ValueError(f"contract {contract_id} is {contract.status.lower()}; Upwork cannot restart it")
            if status in CLOSED:
                end = end or self.today()
                last_cell = max(contract.cells, default=None)
                if end < contract.start or (last_cell is not None and _utc_day(last_cell) > end):
                    raise ValueError(f"contract {contract_id}: end {end} is before its start or its tracked time")
                contract.end = end
                last_term = contract.hourly_terms[-1] if contract.hourly_terms else contract.fixed_term
                if last_term is not None:
                    last_term.end = end
            contract.status = status
            contract.modified = max(contract.modified, self.now())

    # --- seeding: work ----------------------------------------------------------------------------------------------
    def add_work(
        self,
        contract_id: str,
        start: datetime,
        cells: int,
        memo: str = "",
        task: str | None = None,
        manual: bool = False,
    ) -> None:
        """`cells` consecutive 10-minute cells from `start` (timezone-aware, on a 10-minute boundary)."""
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(f"work start {start} needs a time zone")
        first = int(start.timestamp())
        if first % CELL_SECONDS or start.microsecond:
            raise ValueError(f"work start {start} is not on a 10-minute boundary")
        if cells < 1:
            raise ValueError("work needs at least one cell")
        with self.lock:
            contract = self._hourly(contract_id)
            instants = [first + index * CELL_SECONDS for index in range(cells)]
            self._check_cells(contract, instants)
            for instant in instants:
                contract.cells[instant] = _Cell(manual, memo, task)
            if task is not None:
                self._task_id(task)

    def edit_work(self, contract_id: str, day: date, cells: int) -> None:
        """Change a day's (UTC) tracked time to `cells` cells: keep the first ones, or add cells after the last
        one (with its memo, task and kind; from 09:00 UTC on a day without work)."""
        if cells < 0:
            raise ValueError("cells must not be negative")
        with self.lock:
            contract = self._hourly(contract_id)
            day_start = _day_start(day)
            existing = sorted(t for t in contract.cells if day_start <= t < day_start + 86400)
            for instant in existing[cells:]:
                del contract.cells[instant]
            missing = cells - len(existing)
            if missing <= 0:
                return
            if existing:
                last = existing[-1]
                template = contract.cells[last]
            else:
                last = day_start + 9 * 3600 - CELL_SECONDS
                template = _Cell(False, "", None)
            instants = [last + (index + 1) * CELL_SECONDS for index in range(missing)]
            if instants[-1] >= day_start + 86400:
                raise ValueError(f"{cells} cells do not fit into {day} after the last tracked cell")
            self._check_cells(contract, instants)
            for instant in instants:
                contract.cells[instant] = _Cell(template.manual, template.memo, template.task)

    def _check_cells(self, contract: _Contract, instants: list[int]) -> None:
        for instant in instants:
            day = _utc_day(instant)
            if day < contract.start or (contract.end is not None and day > contract.end):
                raise ValueError(f"contract {contract.id} runs {contract.start}..{contract.end or ''}; not {day}")
            if instant in contract.cells:
                raise ValueError(f"contract {contract.id} already has work at {_iso_instant(instant)}")

    def _task_id(self, description: str) -> str:
        if description not in self._task_ids:
            self._task_ids[description] = str(TASK_ID_BASE + len(self._task_ids) + 1)
        return self._task_ids[description]

    # --- lookups ----------------------------------------------------------------------------------------------------
    def _org(self, org_id: str) -> _Org:
        org = self._orgs.get(org_id)
        if org is None:
            raise ValueError(f"no organisation with id {org_id!r}; create it with add_organization")
        return org

    def _person(self, person_id: str) -> _Person:
        person = self._people.get(person_id)
        if person is None:
            raise ValueError(f"no freelancer with id {person_id!r}; create one with add_freelancer")
        return person

    def _contract(self, contract_id: str) -> _Contract:
        contract = self._contracts.get(contract_id)
        if contract is None:
            raise ValueError(f"no contract with id {contract_id!r}")
        return contract

    def _hourly(self, contract_id: str) -> _Contract:
        contract = self._contract(contract_id)
        if not contract.hourly:
            raise ValueError(f"contract {contract_id} ({contract.title}) is fixed-price: it has no hourly time")
        return contract

    def visible_contracts(self, org: _Org) -> list[_Contract]:
        """The contracts an organisation sees: as the vendor (agency, freelancer) or as the client."""
        if org.kind == "client":
            return [c for c in self._contracts.values() if c.client_org == org.id]
        return [c for c in self._contracts.values() if c.vendor_org == org.id]

    # --- views (what GraphQL answers from) --------------------------------------------------------------------------
    def _org_view(self, org: _Org, *, current: bool = False) -> dict[str, Any]:
        org_type, legacy_type, _, _, _ = ORG_KINDS[org.kind]
        view: dict[str, Any] = {
            "id": org.id,
            "rid": org.rid,
            "legacyId": org.legacy_id,
            "name": org.name,
            "type": org_type,
            "legacyType": legacy_type,
            "flag": {
                "client": org.kind == "client",
                "vendor": org.kind != "client",
                "agency": org.kind == "agency",
                "individual": org.kind == "freelancer",
            },
            "parentOrganization": None,
            "active": True,
            "hidden": False,
            "photoUrl": f"{MEDIA_HOST}/org-logos/{org.id}.png",
            "creationDate": _iso_instant(org.created),
        }
        if current:
            view["childOrganizations"] = []
        return view

    def _contract_view(self, contract: _Contract, *, terms: bool = True, limits: bool = True) -> dict[str, Any]:
        vendor = self._orgs[contract.vendor_org]
        client = self._orgs[contract.client_org]
        hourly = [
            {
                "id": term.id,
                "hourlyRate": _money(term.amount, contract.currency),
                "createDate": _iso_instant(term.created),
                "modifyDate": _iso_instant(term.created),
                "changeDate": term.start.isoformat(),
                "startDate": term.start.isoformat(),
                "endDate": term.end.isoformat() if term.end else None,
                "manualTimeAllowed": True,
                "jobType": "HOURLY",
            }
            for term in contract.hourly_terms
        ]
        fixed = []
        if contract.fixed_term is not None:
            term = contract.fixed_term
            fixed.append(
                {
                    "id": term.id,
                    "fpCharge": _money(term.amount, contract.currency),
                    "fixedAmount": _money(term.amount, contract.currency),
                    "createDate": _iso_instant(term.created),
                    "modifyDate": _iso_instant(term.created),
                    "changeDate": term.start.isoformat(),
                    "startDate": term.start.isoformat(),
                    "endDate": term.end.isoformat() if term.end else None,
                    "jobType": "FIXED",
                }
            )
        hourly_limits = []
        if contract.weekly_limit is not None:
            hourly_limits.append(
                {
                    "id": contract.limit_id,
                    "weeklyLimit": str(contract.weekly_limit),
                    "createDate": _iso_instant(contract.created),
                    "modifyDate": _iso_instant(contract.created),
                    "startDate": contract.start.isoformat(),
                    "endDate": contract.end.isoformat() if contract.end else None,
                }
            )
        return {
            "id": contract.id,
            "title": contract.title,
            "status": contract.status,
            "deliveryModel": "MARKETPLACE",
            "kind": "STANDARD",
            "isPtc": False,
            "createDate": _iso_instant(contract.created),
            "modifyDate": _iso_instant(contract.modified),
            "startDate": contract.start.isoformat(),
            "endDate": contract.end.isoformat() if contract.end else None,
            "offerId": contract.offer_id,
            "freelancer": _person_view(self._people[contract.freelancer]),
            "vendorOrganization": self._org_view(vendor),
            "vendorTeam": self._org_view(vendor),
            "clientOrganization": self._org_view(client),
            "clientTeam": self._org_view(client),
            "hiringManager": _person_view(self.me) if client.member else None,
            "metadata": {"agencyContract": vendor.kind == "agency"},
            "hourlyLimits": hourly_limits if limits else None,
            "terms": {"hourlyTerms": hourly, "fixedPriceTerms": fixed} if terms else None,
            "projectId": None,
        }

    def _time_report_rows(self, contracts: list[_Contract], first_day: date, last_day: date) -> list[dict[str, Any]]:
        """One row per (UTC day, contract, task, memo), in order of day, contract and first cell."""
        groups: dict[tuple[date, int, str | None, str], list[tuple[int, _Cell]]] = {}
        ordered = list(self._contracts.values())
        order = {contract.id: index for index, contract in enumerate(ordered)}
        low, high = _day_start(first_day), _day_start(last_day) + 86400
        for contract in contracts:
            for instant, cell in contract.cells.items():
                if low <= instant < high:
                    key = (_utc_day(instant), order[contract.id], cell.task, cell.memo)
                    groups.setdefault(key, []).append((instant, cell))
        rows = []
        for key in sorted(groups, key=lambda k: (k[0], k[1], min(instant for instant, _ in groups[k]))):
            day, index, task, memo = key
            rows.append(self._time_report_row(ordered[index], day, task, memo, [cell for _, cell in groups[key]]))
        return rows

    def _time_report_row(
        self, contract: _Contract, day: date, task: str | None, memo: str, cells: list[_Cell]
    ) -> dict[str, Any]:
        term = contract.term_on(day)
        offline = sum(1 for cell in cells if cell.manual)
        online = len(cells) - offline

        def charge(count_: int) -> float:
            return round(count_ * term.amount / 6, 2)

        client = self._orgs[contract.client_org]
        return {
            "dateWorkedOn": day.isoformat(),
            "weekWorkedOn": (day - timedelta(days=day.weekday())).isoformat(),
            "monthWorkedOn": day.strftime("%Y-%m"),
            "yearWorkedOn": day.strftime("%Y"),
            "freelancer": _person_view(self._people[contract.freelancer]),
            "team": self._org_view(client),
            "contract": lambda _info: self._contract_view(contract),
            "termId": term.id,
            "task": self._task_id(task) if task is not None else None,
            "taskDescription": task,
            "memo": memo,
            "totalHoursWorked": len(cells) / 6,
            "totalCharges": charge(len(cells)),
            "totalOnlineHoursWorked": online / 6,
            "totalOnlineCharge": charge(online),
            "totalOfflineHoursWorked": offline / 6,
            "totalOfflineCharge": charge(offline),
            "billRate": {"id": term.id, "value": term.amount, "code": contract.currency, "offerRef": contract.offer_id},
        }

    def _diary_cell(self, contract: _Contract, instant: int, cell: _Cell, offset: int) -> dict[str, Any]:
        def moment(epoch: int) -> dict[str, str]:
            local = datetime.fromtimestamp(epoch + offset, UTC)
            return {"rawValue": str(epoch), "displayValue": local.strftime("%H:%M")}

        noise = _stable(contract.id, instant)
        tracked = not cell.manual
        snapshot = instant + 60 + noise % 480
        screenshot = f"{MEDIA_HOST}/snapshots/{contract.id}/{instant}" if tracked else None
        return {
            "cellDateTime": moment(instant),
            "snapshotDateTime": moment(snapshot) if tracked else None,
            "overtime": False,
            "manual": cell.manual,
            "activityLevel": (noise >> 8) % 101 if tracked else None,
            "memo": cell.memo,
            "task": {"id": self._task_id(cell.task), "description": cell.task} if cell.task is not None else None,
            "mouseEventsCount": (noise >> 4) % 900 if tracked else None,
            "keyboardEventsCount": (noise >> 12) % 1500 if tracked else None,
            "activeWindowTitle": (cell.memo or contract.title) if tracked else None,
            "hideScreenshots": False,
            "hasScreenshot": tracked,
            "screenshotImageUrl": f"{screenshot}.png" if screenshot else None,
            "screenshotImageUrlMedium": f"{screenshot}-medium.png" if screenshot else None,
            "screenshotImageThumbnail": f"{screenshot}-thumb.png" if screenshot else None,
            "webcamEnabled": False,
            "snapshotExpired": False,
        }

    # --- demo data --------------------------------------------------------------------------------------------------
    def seed_demo(self, today: date) -> None:
        """An agency, a client and a freelancer organisation of the sandbox user, two outside clients, five
        freelancers (one without e-mail whose name needs "John S." matching, one without e-mail and with no match,
        umlauts), hourly contracts with a rate change 30 days ago, a fixed-price one, an ENDED one, one without work
        diary, and 60 days of weekday work up to yesterday with memos and tasks."""
        agency = self.add_organization("Pixelwerk Agency", "agency")["id"]
        client = self.add_organization("Nordlicht Client Org", "client")["id"]
        solo = self.add_organization("Jana Novak (Freelancer)", "freelancer")["id"]
        baeckerei = self.add_organization("Bäckerei Schmidt GmbH", "client", member=False)["id"]
        stadtwerke = self.add_organization("Stadtwerke Kiel", "client", member=False)["id"]
        joerg = self.add_freelancer("Jörg", "Müller", "joerg.mueller@pixelwerk.example")["id"]
        anna = self.add_freelancer("Anna", "Schmidt", "anna.schmidt@pixelwerk.example")["id"]
        john = self.add_freelancer("John", "Smith")["id"]
        mehmet = self.add_freelancer("Mehmet", "Yılmaz")["id"]
        jana = self.add_freelancer("Jana", "Novak", "jana@novak.example")["id"]

        def hourly(title: str, vendor: str, client_org: str, person: str, rate: float, days_ago: int, **kw: Any) -> str:
            return self.add_contract(
                vendor_org=vendor,
                client_org=client_org,
                freelancer=person,
                title=title,
                hourly_rate=rate,
                start=today - timedelta(days=days_ago),
                **kw,
            )["id"]

        relaunch = hourly("Website Relaunch – Frontend", agency, client, joerg, 45.0, 120)
        self.change_rate(relaunch, 50.0, today - timedelta(days=30))
        shop = hourly("Onlineshop Wartung", agency, baeckerei, anna, 38.0, 200, currency="EUR")
        intranet = hourly("Intranet Support", agency, stadtwerke, john, 30.0, 90, diary_available=False)
        landing = hourly(
            "Kampagnen-Landingpage", agency, client, mehmet, 35.0, 150, status="ENDED", end=today - timedelta(days=45)
        )
        research = hourly("UX Research", solo, client, jana, 60.0, 75)
        self.add_contract(
            vendor_org=agency,
            client_org=client,
            freelancer=anna,
            title="Logo Redesign",
            fixed_amount=1200.0,
            start=today - timedelta(days=40),
        )
        plans = {
            relaunch: (8, [("Frontend", "Header-Komponente umgebaut"), ("Frontend", "Bugfixes Checkout")]),
            shop: (9, [("Support", "Ticket-Bearbeitung"), (None, "Plugin-Updates")]),
            intranet: (7, [("Support", "Benutzerverwaltung"), ("Meetings", "Jour fixe")]),
            landing: (10, [(None, "Landingpage Layout"), ("Design", "Grafiken exportiert")]),
            research: (12, [("Research", "Interviews ausgewertet"), ("Meetings", "Workshop mit Kunde")]),
        }
        for contract_id, (hour, blocks) in plans.items():
            contract = self._contracts[contract_id]
            for days_ago in range(60, 0, -1):
                day = today - timedelta(days=days_ago)
                if day.weekday() >= 5 or day < contract.start or (contract.end and day > contract.end):
                    continue
                ordinal = day.toordinal()
                morning = datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC)
                task, memo = blocks[0]
                self.add_work(contract_id, morning, 12 + ordinal % 7, memo=memo, task=task)
                task, memo = blocks[1]
                afternoon = morning + timedelta(hours=4, minutes=10 * (ordinal % 3))
                manual = ordinal % 5 == 0
                self.add_work(contract_id, afternoon, 6 + ordinal % 10, memo=memo, task=task, manual=manual)


def _person_view(person: _Person) -> dict[str, Any]:
    """A user as CurrentUser, GenericUser and ContractUser show it."""
    return {
        "id": person.id,
        "nid": person.nid,
        "rid": person.rid,
        "name": person.short_name,
        "firstName": person.first_name,
        "lastName": person.last_name,
        "email": person.email,
        "photoUrl": f"{MEDIA_HOST}/portraits/{person.id}.jpg",
        "publicUrl": f"https://www.upwork.com/freelancers/{person.ciphertext}",
        "ciphertext": person.ciphertext,
    }


class _Resolvers:
    """The root value of one GraphQL request: one method per root field, run with the tenant of the request."""

    def __init__(self, sim: UpworkSimulator, tenant: _Org | None) -> None:
        self.sim = sim
        self.tenant = tenant

    def _tenant(self) -> _Org:
        if self.tenant is None:
            raise GraphQLError(AUTHORIZATION_FAILED)
        return self.tenant

    def _visible(self, contract_id: str) -> _Contract:
        contract = self.sim._contracts.get(str(contract_id))
        if contract is None or contract not in self.sim.visible_contracts(self._tenant()):
            raise GraphQLError(AUTHORIZATION_FAILED)
        return contract

    # --- organisations and the user ---------------------------------------------------------------------------------
    def companySelector(self, _info: Any) -> dict[str, Any]:
        items = []
        for org in self.sim._orgs.values():
            if not org.member:
                continue
            _, _, selector_type, selector_legacy, title = ORG_KINDS[org.kind]
            items.append(
                {
                    "title": org.name,
                    "photoUrl": f"{MEDIA_HOST}/org-logos/{org.id}.png",
                    "organizationId": org.id,
                    "organizationRid": org.rid,
                    "organizationType": selector_type,
                    "organizationLegacyType": selector_legacy,
                    "organizationEnterpriseType": "Standard",
                    "legacyEnterpriseOrganization": False,
                    "typeTitle": title,
                }
            )
        return {"items": items}

    def organization(self, _info: Any) -> dict[str, Any]:
        return self.sim._org_view(self._tenant(), current=True)

    def user(self, _info: Any) -> dict[str, Any]:
        return _person_view(self.sim.me)

    # --- time reports -----------------------------------------------------------------------------------------------
    def contractTimeReport(
        self, _info: Any, filter: dict[str, Any] | None = None, pagination: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        tenant = self._tenant()
        if not filter:
            raise GraphQLError(VJCA_6)
        if filter.get("organizationId_eq") != tenant.id:
            raise GraphQLError(AUTHORIZATION_FAILED)
        first_day, last_day = _day_range(filter.get("timeReportDate_bt"))
        pagination = pagination or {"first": MAX_FIRST}
        first = pagination.get("first")
        if not isinstance(first, int) or not 1 <= first <= MAX_FIRST:
            raise GraphQLError(VJCA_6)
        after_text = pagination.get("after") or "0"
        if not after_text.isdigit():
            raise GraphQLError(VJCA_6)
        after = int(after_text)
        contracts = self.sim.visible_contracts(tenant)
        wanted = filter.get("contractIds")
        if wanted:
            wanted_ids = {str(contract_id) for contract_id in wanted if contract_id is not None}
            contracts = [c for c in contracts if c.id in wanted_ids]
        rows = self.sim._time_report_rows(contracts, first_day, last_day) if first_day <= last_day else []
        page = rows[after : after + first]
        edges = [{"cursor": str(after + index + 1), "node": row} for index, row in enumerate(page)]
        return {
            "totalCount": len(rows),
            "edges": edges,
            "pageInfo": {
                "endCursor": edges[-1]["cursor"] if edges else None,
                "hasNextPage": after + len(page) < len(rows),
            },
        }

    # --- contracts --------------------------------------------------------------------------------------------------
    def contractDetails(self, _info: Any, id: str, date: str | None = None) -> dict[str, Any]:
        return self.sim._contract_view(self._visible(id))

    def contractList(self, _info: Any, ids: list[str]) -> dict[str, Any]:
        return {"contracts": [self.sim._contract_view(self._visible(contract_id)) for contract_id in ids]}

    def vendorContracts(
        self,
        _info: Any,
        filter: dict[str, Any],
        options: dict[str, Any] | None = None,
        paging: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        tenant = self._tenant()
        if filter.get("vendorId") != tenant.id or tenant.kind == "client":
            raise GraphQLError(AUTHORIZATION_FAILED)
        options = options or {}
        paging = paging or {}
        limit, offset = paging.get("limit", 10), paging.get("offset", 0)
        if limit is None:
            limit = 10
        if offset is None:
            offset = 0
        if limit < 1 or offset < 0:
            raise GraphQLError(VJCA_6)
        contracts = self.sim.visible_contracts(tenant)
        if filter.get("startDateBefore"):
            before = _parse_day(filter["startDateBefore"])
            contracts = [c for c in contracts if c.start < before]
        if filter.get("endDateAfter"):
            after = _parse_day(filter["endDateAfter"])
            contracts = [c for c in contracts if c.end is None or c.end > after]
        if filter.get("contractStatuses"):
            contracts = [c for c in contracts if c.status in filter["contractStatuses"]]
        page = contracts[offset : offset + limit]
        terms, limits = bool(options.get("addTerms")), bool(options.get("addHourLimits"))
        return {
            "paging": {
                "limit": limit,
                "offset": offset,
                "total": len(contracts) if paging.get("includeTotalCount") else None,
            },
            "contracts": [self.sim._contract_view(c, terms=terms, limits=limits) for c in page],
        }

    # --- work diary -------------------------------------------------------------------------------------------------
    def workDays(self, _info: Any, workdaysInput: dict[str, Any]) -> dict[str, Any]:
        contracts = [self._visible(contract_id) for contract_id in workdaysInput["contractIds"]]
        first_day, last_day = _day_range(workdaysInput.get("timeRange"))
        offset = workdaysInput.get("offsetInSeconds") or 0
        days = {
            _utc_day(instant + offset)
            for contract in contracts
            for instant in contract.cells
            if first_day <= _utc_day(instant + offset) <= last_day
        }
        return {"workDays": [day.strftime("%Y%m%d") for day in sorted(days)]}

    def workDiaryContract(self, _info: Any, workDiaryContractInput: dict[str, Any]) -> dict[str, Any]:
        contract = self._visible(workDiaryContractInput["contractId"])
        day = _parse_day(workDiaryContractInput["date"])
        offset = workDiaryContractInput.get("offsetInSeconds") or 0
        low = _day_start(day) - offset
        cells = []
        if contract.diary_available:
            cells = [
                self.sim._diary_cell(contract, instant, contract.cells[instant], offset)
                for instant in sorted(contract.cells)
                if low <= instant < low + 86400
            ]
        archiving = (day + timedelta(days=365)).isoformat() + "T00:00:00Z"
        return {
            "workDiaryMetadata": {"timezoneOffset": str(offset), "archivingDateTime": archiving},
            "workDiaryTimeCells": cells,
        }
