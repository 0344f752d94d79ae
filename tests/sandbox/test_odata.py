"""awork's filterby/orderby expressions as the simulator evaluates them."""

import pytest

from sandbox.odata import ODataError, compile_filter, compile_order

PROJECT = {
    "id": "0c5e1b38-6f1d-4a54-9c8e-3b1f2a4d5e60",
    "name": "Website Relaunch",
    "projectKey": "P001",
    "isPrivate": False,
    "timeBudget": 3600,
    "description": None,
    "updatedOn": "2024-05-14T10:00:00Z",
    "company": {"name": "ACME GmbH"},
    "tags": [],
    "userContactInfos": [
        {"type": "phone", "value": "+49 40 123"},
        {"type": "email", "value": "anna@pixelwerk.de"},
    ],
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("projectKey eq 'P001'", True),
        ("projectKey eq 'p001'", False),
        ("projectKey ne 'P001'", False),
        ("tolower(name) eq 'website relaunch'", True),
        ("toupper(company/name) eq 'ACME GMBH'", True),
        ("Company/Name eq 'ACME GmbH'", True),
        ("PROJECTKEY EQ 'P001'", True),
        ("startswith(name,'Web')", True),
        ("endswith(name, 'Relaunch')", True),
        ("substringof('site', name)", True),
        ("substringof('site', description)", False),
        ("startswith(name,'Web') eq false", False),
        ("projectKey in ('P000', 'P001')", True),
        ("projectKey in ('P000')", False),
        ("timeBudget gt 3599 and timeBudget le 3600", True),
        ("timeBudget lt 3600 or isPrivate eq false", True),
        ("timeBudget ge 3600.5", False),
        ("timeBudget lt 3600.5M", True),
        ("timeBudget eq 3600L", True),
        ("not (timeBudget eq 3600)", False),
        ("not timeBudget eq 3600", False),
        ("not isPrivate", True),
        ("(isPrivate eq true or timeBudget eq 3600) and projectKey eq 'P001'", True),
        ("description eq null", True),
        ("description ne null", False),
        ("description gt 'a'", False),
        ("description/text eq null", True),
        ("updatedOn ge datetime'2024-05-14T10:00:00'", True),
        ("updatedOn gt datetime'2024-05-14T11:00:00+02:00'", True),
        ("updatedOn lt datetime'2024-05-14T10:00:00.001Z'", True),
        ("id eq guid'0C5E1B38-6F1D-4A54-9C8E-3B1F2A4D5E60'", True),
        ("name eq 'Website''s Relaunch'", False),
        ("userContactInfos/any(c: c/type eq 'email' and c/value eq 'anna@pixelwerk.de')", True),
        ("userContactInfos/any(c: c/value eq 'bob@pixelwerk.de')", False),
        ("userContactInfos/any()", True),
        ("tags/any()", False),
        ("userContactInfos/count() eq 2", True),
        ("userContactInfos/count(c: c/type eq 'email') gt 0", True),
    ],
)
def test_filter(expr: str, expected: bool) -> None:
    assert compile_filter(expr)(PROJECT) is expected


def test_quoted_apostrophe_is_one_apostrophe() -> None:
    assert compile_filter("name eq 'it''s'")({"name": "it's"})


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("name", ["a", "b", "c", "d"]),
        ("name desc", ["d", "c", "b", "a"]),
        ("rank,name desc", ["d", "c", "b", "a"]),
        ("Rank desc,name", ["a", "b", "c", "d"]),
        ("company/name asc, name", ["d", "a", "c", "b"]),
    ],
)
def test_order(expr: str, expected: list[str]) -> None:
    items = [
        {"name": "c", "rank": None, "company": {"name": "y"}},
        {"name": "a", "rank": 2, "company": {"name": "x"}},
        {"name": "d", "rank": None, "company": None},
        {"name": "b", "rank": 2, "company": {"name": "z"}},
    ]
    assert [item["name"] for item in compile_order(expr)(items)] == expected


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "projectKey eq",
        "projectKey eq 'P001' extra",
        "(projectKey eq 'P001'",
        "projectKey eq 'P001",
        "projectKey === 'P001'",
        "frobnicate(name)",
        "tolower(name, 'x') eq 'y'",
        "updatedOn gt datetime'yesterday'",
    ],
)
def test_filter_that_does_not_parse_is_an_error(expr: str) -> None:
    with pytest.raises(ODataError):
        compile_filter(expr)


@pytest.mark.parametrize(
    "expr",
    [
        "noSuchField eq 1",
        "name eq 5",
        "timeBudget",
        "tolower(timeBudget) eq 'x'",
        "name/any()",
        "name/first eq 'x'",
    ],
)
def test_filter_that_does_not_fit_the_item_is_an_error(expr: str) -> None:
    with pytest.raises(ODataError):
        compile_filter(expr)(PROJECT)


@pytest.mark.parametrize("expr", ["", "name sideways", "name,", "tolower(name)"])
def test_order_that_does_not_parse_is_an_error(expr: str) -> None:
    with pytest.raises(ODataError):
        compile_order(expr)


def test_order_by_mixed_types_is_an_error() -> None:
    with pytest.raises(ODataError):
        compile_order("value")([{"value": 1}, {"value": "one"}])
