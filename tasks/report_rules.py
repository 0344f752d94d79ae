"""The rules of the reports, as pure pandas functions (frames in, frames out, no I/O): awork against MOCO hours
(reconciliation) and the margin of Upwork contracts.

Durations come in as whole seconds and are summed as integers, so two sides agree exactly or not at all; hours
are rounded to 2 places only in the report. Money is summed exactly (seconds times cents) and rounded half up to
cents as `Decimal`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from tasks.time_rules import REMOTE_PREFIX, entry_ref, explicit_days

AWORK_COLUMNS = ["entry_id", "project", "user", "email", "day", "seconds"]
MOCO_COLUMNS = ["activity_id", "project", "user", "day", "seconds", "billed", "remote_id"]
MARGIN_COLUMNS = ["organisation", "contract", "project", "day", "seconds", "pay_rate", "bill_rate", "currency"]
DAY_KEY = ["project", "user", "day"]
RECONCILE_BY = ("project", "user", "day", "week")
MARGIN_BY = {"contract": ["organisation", "contract"], "project": ["project"], "organisation": ["organisation"]}
TOTAL = "total"
ISSUE_PREFIX = entry_ref("")

BILLED = "billed activity"
OUTSIDE = "entry outside the synced projects"
UNKNOWN = "unknown"

CENT = Decimal("0.01")
CENT_SECONDS_PER_UNIT = Decimal(3600 * 100)  # an amount in cent-seconds (seconds x cents per hour) over this


def check_choice(by: str, choices: Iterable[str]) -> None:
    """Refuse a `by` the report does not know, naming the ones it does."""
    if by not in choices:
        raise ValueError(f"cannot report by {by!r}: choose one of {', '.join(choices)}")


def report_window(start: date | None, end: date | None, today: date, days: int = 35) -> tuple[date, date]:
    """The report's days (inclusive): start..end (one of them alone: that day), else the last `days` days up to
    yesterday."""
    return explicit_days(start, end) or (today - timedelta(days=days), today - timedelta(days=1))


# reconciliation ------------------------------------------------------------------------------------------------


def reconcile(
    awork: pd.DataFrame, moco: pd.DataFrame, moco_users: Mapping[str, str], issues: Mapping[str, str]
) -> pd.DataFrame:
    """Seconds per project, user and day in awork and in MOCO, each difference with its cause(s).

    `awork` has AWORK_COLUMNS (entries on linked projects, `project` named as in MOCO, `email` the awork user's);
    `moco` has MOCO_COLUMNS (every activity of the linked projects); `moco_users` maps lower-case e-mails to MOCO
    user names (an awork user counts as that MOCO user); `issues` maps open sync issues' object refs to their
    messages. Returns DAY_KEY + `awork_seconds`, `moco_seconds`, `difference_seconds`, `cause` (empty where the
    two sides agree)."""
    awork_side, moco_side = _entry_sides(_awork_rows(awork, moco_users), _moco_rows(moco))
    contributions = pd.concat(
        [
            awork_side[[*DAY_KEY, "seconds"]].rename(columns={"seconds": "awork_seconds"}),
            moco_side[[*DAY_KEY, "seconds"]].rename(columns={"seconds": "moco_seconds"}),
        ],
        ignore_index=True,
    )
    contributions[["awork_seconds", "moco_seconds"]] = contributions[["awork_seconds", "moco_seconds"]].fillna(0)
    contributions["cause"] = _causes(awork_side, moco_side, issues)
    days = contributions.groupby(DAY_KEY, as_index=False)[["awork_seconds", "moco_seconds"]].sum()
    days = days.astype({"awork_seconds": "int64", "moco_seconds": "int64"})
    days["difference_seconds"] = days["awork_seconds"] - days["moco_seconds"]
    causes = _joined_causes(contributions, DAY_KEY)
    days = days.merge(causes, on=DAY_KEY, how="left")
    days["cause"] = days["cause"].where(days["difference_seconds"].ne(0), "").fillna("")
    return days.sort_values(DAY_KEY, ignore_index=True)


def _awork_rows(awork: pd.DataFrame, moco_users: Mapping[str, str]) -> pd.DataFrame:
    """awork entries under the name of their MOCO user (same e-mail, case ignored); `mapped` says whether one
    exists."""
    rows = awork[AWORK_COLUMNS].copy()
    rows["entry_id"] = rows["entry_id"].astype(str)
    rows["day"] = pd.to_datetime(rows["day"])
    rows["awork_user"] = rows["user"]
    moco_name = rows["email"].fillna("").astype(str).str.strip().str.lower().map(dict(moco_users))
    rows["mapped"] = moco_name.notna()
    rows["user"] = moco_name.fillna(rows["user"])
    return rows


def _moco_rows(moco: pd.DataFrame) -> pd.DataFrame:
    """MOCO activities with the awork entry id their remote_id names (none for activities entered in MOCO)."""
    rows = moco[MOCO_COLUMNS].copy()
    rows["day"] = pd.to_datetime(rows["day"])
    remote_ids = rows["remote_id"].fillna("").astype(str)
    rows["entry_id"] = remote_ids.str.removeprefix(REMOTE_PREFIX).where(remote_ids.str.startswith(REMOTE_PREFIX))
    return rows


def _entry_sides(awork: pd.DataFrame, moco: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each awork entry beside its activity and each activity beside its entry (paired by remote_id), with
    `differs`: no partner, or another project, user, day or duration."""
    compared = [*DAY_KEY, "seconds"]
    activities = moco.dropna(subset=["entry_id"]).drop_duplicates("entry_id")
    awork_side = awork.merge(
        activities[["entry_id", *compared, "billed"]].rename(columns={c: f"{c}_other" for c in compared}),
        on="entry_id",
        how="left",
    )
    moco_side = moco.merge(
        awork[["entry_id", *compared, "mapped", "awork_user"]].rename(columns={c: f"{c}_other" for c in compared}),
        on="entry_id",
        how="left",
    )
    for side in (awork_side, moco_side):
        same = pd.concat([side[c].eq(side[f"{c}_other"]) for c in compared], axis=1).all(axis=1)
        side["differs"] = ~same
    moco_side["differs"] |= moco_side["entry_id"].notna() & moco_side.duplicated("entry_id")  # a second activity
    return awork_side, moco_side


def _causes(awork_side: pd.DataFrame, moco_side: pd.DataFrame, issues: Mapping[str, str]) -> np.ndarray:
    """Why each differing entry or activity differs, first match wins: its activity is billed, its entry has an
    open sync issue, its user has no MOCO account, the activity has no entry on the synced projects; else
    unknown (e.g. not pushed yet). Empty where nothing differs."""
    both = pd.concat(
        [awork_side.assign(has_entry=True), moco_side.assign(has_entry=moco_side["seconds_other"].notna())],
        ignore_index=True,
    )
    issue = (ISSUE_PREFIX + both["entry_id"].fillna("").astype(str)).map(dict(issues))
    billed = both["billed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    unmapped = (both["has_entry"] & both["mapped"].eq(False)).to_numpy(dtype=bool)
    cause = np.select(
        [billed, issue.notna().to_numpy(), unmapped, ~both["has_entry"].to_numpy(dtype=bool)],
        [
            np.full(len(both), BILLED, dtype=object),
            ("open sync issue: " + issue.fillna("")).to_numpy(dtype=object),
            ("unmapped user " + both["awork_user"].fillna("").astype(str)).to_numpy(dtype=object),
            np.full(len(both), OUTSIDE, dtype=object),
        ],
        default=UNKNOWN,
    )
    return np.where(both["differs"].to_numpy(dtype=bool), cause, "")


def _joined_causes(rows: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """The distinct non-empty causes of each group, sorted and joined with "; "."""
    causes = rows.loc[rows["cause"].ne(""), [*key, "cause"]].drop_duplicates().sort_values([*key, "cause"])
    return causes.groupby(key, as_index=False)["cause"].agg("; ".join)


def reconcile_report(days: pd.DataFrame, by: str) -> pd.DataFrame:
    """The reconciliation per project, user, day or week (ISO week, by its Monday): hours on both sides, their
    difference, how many project-user-days differ and why, and whether they agree; then the total line, whose
    `agree` says whether the two sides agree on every project, user and day."""
    check_choice(by, RECONCILE_BY)
    rows = _with_week(days).assign(differences=days["difference_seconds"].ne(0).astype("int64"))
    sums = ["awork_seconds", "moco_seconds", "difference_seconds", "differences"]
    grouped = rows.groupby(by, as_index=False)[sums].sum()
    grouped = grouped.merge(_joined_causes(rows, [by]), on=by, how="left").fillna({"cause": ""})
    if by in ("day", "week"):
        grouped[by] = grouped[by].dt.strftime("%Y-%m-%d")
    total = pd.DataFrame([{by: TOTAL, **rows[sums].sum().to_dict(), "cause": ""}])
    return _hours_report(pd.concat([grouped, total], ignore_index=True), [by])


def reconcile_differences(days: pd.DataFrame) -> pd.DataFrame:
    """Every project-user-day on which the two sides differ, with its hours and cause."""
    differing = days[days["difference_seconds"].ne(0)].copy()
    differing["day"] = differing["day"].dt.strftime("%Y-%m-%d")
    report = _hours_report(differing.assign(differences=1), DAY_KEY)
    return report.drop(columns=["differences", "agree"]).reset_index(drop=True)


def weekly_hours(days: pd.DataFrame) -> pd.DataFrame:
    """Hours per ISO week (by its Monday) in awork and in MOCO, for the chart."""
    weeks = _with_week(days).groupby("week", as_index=False)[["awork_seconds", "moco_seconds"]].sum()
    return pd.DataFrame(
        {
            "week": weeks["week"].dt.strftime("%Y-%m-%d"),
            "awork_hours": _hours(weeks["awork_seconds"]),
            "moco_hours": _hours(weeks["moco_seconds"]),
        }
    )


def _with_week(days: pd.DataFrame) -> pd.DataFrame:
    return days.assign(week=days["day"] - pd.to_timedelta(days["day"].dt.weekday, unit="D"))


def _hours(seconds: pd.Series) -> pd.Series:
    return (seconds / 3600).round(2)


def _hours_report(rows: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            **{column: rows[column] for column in key},
            "awork_hours": _hours(rows["awork_seconds"]),
            "moco_hours": _hours(rows["moco_seconds"]),
            "difference": _hours(rows["difference_seconds"]),
            "differences": rows["differences"].astype("int64"),
            "cause": rows["cause"],
            "agree": rows["differences"].eq(0),
        }
    )


# margin of Upwork contracts ------------------------------------------------------------------------------------


def margin_report(entries: pd.DataFrame, by: str) -> pd.DataFrame:
    """Hours, pay cost, billed revenue and margin per contract, project or organisation and currency (currencies
    are never added up), then a total line per currency.

    `entries` has MARGIN_COLUMNS: one row per synced entry with the pay and bill rate of its day. A group with an
    entry that lacks a rate has no cost (or revenue, and so no margin); `missing_rates` says how many lack which."""
    check_choice(by, MARGIN_BY)
    rows = entries[MARGIN_COLUMNS].copy()
    rows["currency"] = rows["currency"].fillna("")
    for rate in ("pay", "bill"):
        cents = (pd.to_numeric(rows[f"{rate}_rate"]) * 100).round().astype("Int64")
        rows[f"{rate}_units"] = rows["seconds"] * cents  # cent-seconds: exact, divided once per group
        rows[f"{rate}_missing"] = cents.isna().astype("int64")
    sums = ["seconds", "pay_units", "bill_units", "pay_missing", "bill_missing"]
    key = [*MARGIN_BY[by], "currency"]
    groups = rows.groupby(key, as_index=False).agg(
        entries=("seconds", "size"), **{column: (column, "sum") for column in sums}
    )
    totals = groups.groupby("currency", as_index=False)[["entries", *sums]].sum()
    totals[MARGIN_BY[by][0]] = TOTAL
    lines = pd.concat([groups, totals], ignore_index=True).fillna({column: "" for column in MARGIN_BY[by]})
    return _money_report(lines, key)


def _money(cent_seconds: int, missing: int) -> Decimal | None:
    """Cent-seconds as money rounded half up to cents; None when entries lacked the rate."""
    if missing:
        return None
    return (Decimal(cent_seconds) / CENT_SECONDS_PER_UNIT).quantize(CENT, ROUND_HALF_UP)


def _missing_note(pay_missing: int, bill_missing: int) -> str:
    notes = [
        f"{what} rate missing on {count} entr{'y' if count == 1 else 'ies'}"
        for what, count in (("pay", pay_missing), ("bill", bill_missing))
        if count
    ]
    return "; ".join(notes)


def _money_report(groups: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Cent-seconds to money, once per group (a handful of rows, not the entries)."""
    pay_cost = [_money(int(u), m) for u, m in zip(groups["pay_units"], groups["pay_missing"], strict=True)]
    revenue = [_money(int(u), m) for u, m in zip(groups["bill_units"], groups["bill_missing"], strict=True)]
    margin = [r - c if r is not None and c is not None else None for r, c in zip(revenue, pay_cost, strict=True)]
    percent = [
        (m / r * 100).quantize(Decimal("0.1"), ROUND_HALF_UP) if m is not None and r else None
        for m, r in zip(margin, revenue, strict=True)
    ]
    notes = [_missing_note(p, b) for p, b in zip(groups["pay_missing"], groups["bill_missing"], strict=True)]
    seconds = groups["seconds"].astype("int64")
    return pd.DataFrame(
        {
            **{column: groups[column] for column in key},
            "entries": groups["entries"].astype("int64"),
            "hours": [(Decimal(int(s)) / 3600).quantize(CENT, ROUND_HALF_UP) for s in seconds],
            "pay_cost": pd.Series(pay_cost, dtype=object),
            "revenue": pd.Series(revenue, dtype=object),
            "margin": pd.Series(margin, dtype=object),
            "margin_percent": pd.Series(percent, dtype=object),
            "missing_rates": notes,
        }
    )
