"""Tests of the JSON shape comparison used against real recorded responses."""

from __future__ import annotations

from typing import Any

import pytest

from tests.shapes import json_type, shape_differences


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "boolean"),
        (0, "integer"),
        (100.0, "number"),
        ("", "string"),
        ([], "array"),
        ({}, "object"),
    ],
)
def test_json_type_tells_integers_from_floats_and_booleans(value: Any, expected: str) -> None:
    assert json_type(value) == expected


def test_same_keys_and_types_do_not_differ() -> None:
    recorded = {"id": 1, "budget": 100.0, "tags": ["a"], "customer": {"id": 2, "name": "Beispiel GmbH"}}
    ours = {"id": 7, "budget": 0.0, "tags": ["x", "y"], "customer": {"id": 3, "name": "Kunde AG"}}
    assert shape_differences(recorded, ours) == []


def test_missing_and_unrecorded_keys_are_named_by_path() -> None:
    recorded = {"id": 1, "customer": {"id": 2, "name": "Beispiel GmbH"}}
    ours = {"id": 1, "active": True, "customer": {"id": 2}}
    assert shape_differences(recorded, ours) == ["$.active: not recorded", "$.customer.name: missing"]


def test_an_integer_is_not_a_float() -> None:
    assert shape_differences({"hourly_rate": 100.0}, {"hourly_rate": 100}) == [
        "$.hourly_rate: recorded number, ours integer (100)"
    ]


@pytest.mark.parametrize("ours", [None, "2020-01-01", 5, {"id": 1}, [1]])
def test_a_recorded_null_matches_any_value(ours: Any) -> None:
    assert shape_differences({"finish_date": None}, {"finish_date": ours}) == []


def test_our_null_is_left_to_the_spec() -> None:
    assert shape_differences({"deal": {"id": 1, "name": "Relaunch"}}, {"deal": None}) == []


def test_list_items_are_paired_with_their_closest_look_alike() -> None:
    recorded = [{"type": "customer", "currency": "EUR"}, {"type": "supplier", "iban": "DE02"}]
    ours = [{"type": "supplier", "iban": None}, {"type": "customer", "currency": "CHF"}]
    assert shape_differences(recorded, ours) == []


def test_our_list_items_need_a_recorded_look_alike_too() -> None:
    recorded = [{"type": "customer", "currency": "EUR"}]
    ours = [{"type": "customer", "currency": "EUR"}, {"type": "organization"}]
    assert shape_differences(recorded, ours) == ["$[].currency: missing"]


def test_empty_lists() -> None:
    assert shape_differences([], [{"id": 1}]) == []  # an empty recording shows no item shape
    assert shape_differences([{"id": 1}], []) == ["$: recorded 1 item(s), ours none"]


def test_a_different_type_is_reported_once_without_descending() -> None:
    assert shape_differences({"tags": ["a"]}, {"tags": "a"}) == ["$.tags: recorded array, ours string ('a')"]
