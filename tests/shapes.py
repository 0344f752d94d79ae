"""Compare the shape of two JSON values: the same keys and the same JSON value types, recursively.

Used to hold a simulator's answers against real recorded ones. A null on either side matches anything: a recorded
null says only that the field is nullable, and whether ours may be null is the official spec's business (the tests
validate every answer against it). int and float are different types (MOCO sends amounts as `100.0`). List items
are paired by shape, in both directions: every recorded item needs a look-alike among ours, and every one of ours
a look-alike among the recorded ones.
"""

from __future__ import annotations

from typing import Any

_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"), (dict, "object"))


def json_type(value: Any) -> str:
    """The JSON type of a parsed value, telling integers from floats."""
    return next((name for python_type, name in _TYPES if isinstance(value, python_type)), "null")


def shape_differences(recorded: Any, ours: Any, where: str = "$") -> list[str]:
    """How `ours` differs in shape from `recorded`, one line per difference, each named by its JSON path."""
    if recorded is None or ours is None:
        return []
    if json_type(recorded) != json_type(ours):
        return [f"{where}: recorded {json_type(recorded)}, ours {json_type(ours)} ({ours!r:.60})"]
    if isinstance(recorded, dict):
        return _object_differences(recorded, ours, where)
    if isinstance(recorded, list):
        return _list_differences(recorded, ours, where)
    return []


def _object_differences(recorded: dict[str, Any], ours: dict[str, Any], where: str) -> list[str]:
    differences = [f"{where}.{key}: missing" for key in recorded if key not in ours]
    differences += [f"{where}.{key}: not recorded" for key in ours if key not in recorded]
    for key in recorded.keys() & ours.keys():
        differences += shape_differences(recorded[key], ours[key], f"{where}.{key}")
    return sorted(differences)


def _list_differences(recorded: list[Any], ours: list[Any], where: str) -> list[str]:
    """Each recorded item against our closest one, and each of ours against the closest recorded one."""
    if not recorded:
        return []  # an empty recording shows no item shape
    if not ours:
        return [f"{where}: recorded {len(recorded)} item(s), ours none"]
    differences = [_closest(item, ours, where, recorded_first=True) for item in recorded]
    differences += [_closest(item, recorded, where, recorded_first=False) for item in ours]
    return list(dict.fromkeys(line for lines in differences for line in lines))


def _closest(item: Any, candidates: list[Any], where: str, *, recorded_first: bool) -> list[str]:
    """The differences between `item` and the candidate it differs least from (ties: the first such)."""
    pairs = ((item, candidate) if recorded_first else (candidate, item) for candidate in candidates)
    return min((shape_differences(recorded, ours, f"{where}[]") for recorded, ours in pairs), key=len)
