"""Checks HTTP request and response JSON bodies against the official OpenAPI 3.0 specs of MOCO and awork.

The whole spec is registered as one `referencing` resource, so every `$ref` (`#/components/schemas/Project`)
resolves against it; a body is validated against `{"$ref": "<spec uri>#/paths/.../schema"}`. Requests use
`OAS30WriteValidator` (readOnly properties are not required, and must not be sent), responses
`OAS30ReadValidator`. Both check the `date`/`date-time` formats (unknown formats are ignored) and accept OpenAPI 3.0
`nullable: true` also next to `$ref`/`allOf`/`oneOf`/`anyOf`/`enum`.

`oneOf` is checked like `anyOf` unless `strict_one_of=True`: MOCO's `Project.customer` is a `oneOf` of two object
schemas that every customer object satisfies both of, so strict checking rejects every real project body.
"""

from __future__ import annotations

import functools
import json
import re
import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import extend
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker
from referencing import Registry
from referencing.jsonschema import DRAFT4

SPEC_DIR = Path("/work/shared/api")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_MESSAGE = 300
MAX_SHOWN = 30

Keyword = Callable[[Validator, Any, Any, dict[str, Any]], Iterator[ValidationError]]

_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxstring, _SHORT.maxother = 2, 4, 4, 60, 60


class ContractViolation(AssertionError):
    """Bodies exchanged with a simulator do not match the official OpenAPI spec."""


@functools.cache
def load_spec(path: Path) -> dict[str, Any]:
    """The parsed spec document; read once per process and path."""
    return json.loads(path.read_text(encoding="utf-8"))


def _nullable(keyword: Keyword) -> Keyword:
    """Let `nullable: true` admit null also where the schema has no `type` (`$ref`, `allOf`, ...) or an enum."""

    def check(validator: Validator, value: Any, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
        if instance is None and schema.get("nullable") is True:
            return
        yield from keyword(validator, value, instance, schema)

    return check


@functools.cache
def _validator_class(write: bool, strict_one_of: bool) -> type[Validator]:
    """OAS30Write/ReadValidator with OpenAPI-style nullable; `oneOf` checked as `anyOf` unless strict."""
    base = OAS30WriteValidator if write else OAS30ReadValidator
    keywords = {name: _nullable(base.VALIDATORS[name]) for name in ("$ref", "allOf", "oneOf", "anyOf", "enum")}
    if not strict_one_of:
        keywords["oneOf"] = keywords["anyOf"]
    return extend(base, keywords)


def _escape(segment: str) -> str:
    """One JSON-pointer segment (RFC 6901), percent-quoted for a URI fragment."""
    return quote(segment.replace("~", "~0").replace("/", "~1"), safe="~")


def _compile_segment(segment: str) -> tuple[int, str]:
    """Rank (0 literal, 1 mixed like `{id}.pdf`, 2 bare parameter) and regex of one template segment."""
    parts = [part for part in re.split(r"(\{[^}/]+\})", segment) if part]
    regex = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    if not any(part.startswith("{") for part in parts):
        return 0, regex
    return (2 if len(parts) == 1 else 1), regex


def _compile_template(template: str) -> tuple[tuple[int, ...], re.Pattern[str]]:
    """Sort rank (literal segments first) and full-match pattern of a path template."""
    segments = [_compile_segment(segment) for segment in template.strip("/").split("/")]
    rank = tuple(rank for rank, _ in segments)
    return rank, re.compile("/" + "/".join(regex for _, regex in segments))


def _media_type(content: dict[str, Any]) -> str | None:
    """`application/json` if declared, else the first content type."""
    return "application/json" if "application/json" in content else next(iter(content), None)


def _message(error: ValidationError) -> str:
    """The validator's message with the failing value abbreviated, plus the closest sub-error of oneOf/anyOf."""
    short = _SHORT.repr(error.instance)
    if error.validator == "oneOf" and not error.context:
        return f"{short} is valid under more than one oneOf alternative"
    if error.validator == "type" and error.instance is None:
        return f"None is not of type {error.validator_value!r} (not nullable)"
    message = error.message
    if message.startswith(full := repr(error.instance)):
        message = short + message[len(full) :]
    if error.context:
        closest = best_match(error.context)
        message += f" (closest: {closest.json_path}: {_message(closest)})"
    return message


def _errors(validator: Validator | None, body: object, label: str) -> list[str]:
    """`label $.json.path: message` for every validation error, truncated to MAX_MESSAGE characters."""
    if validator is None:
        return []
    errors = {}  # dict: ordered and deduplicated (the OAS `type` keyword reports a null twice)
    for error in sorted(validator.iter_errors(body), key=lambda error: error.json_path):
        text = f"{label} {error.json_path}: {_message(error)}"
        errors[text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"] = None
    return list(errors)


def _summary(errors: list[str]) -> str:
    lines = [f"{len(errors)} contract violation(s):", *errors[:MAX_SHOWN]]
    if len(errors) > MAX_SHOWN:
        lines.append(f"... and {len(errors) - MAX_SHOWN} more")
    return "\n".join(lines)


class OpenApiContract:
    """Validates exchanges (method, concrete path, bodies, status) against one OpenAPI 3.0 spec."""

    def __init__(
        self,
        spec_path: str | Path,
        base_path: str = "/api/v1",
        *,
        strict_one_of: bool = False,
        documented: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """`documented`: operations (path -> method -> operation) the API's docs describe and its spec leaves out,
        checked against the spec's own schemas."""
        path = Path(spec_path).resolve()
        self.spec = _with_operations(load_spec(path), documented or {})
        self.base_path = base_path.rstrip("/")
        self.strict_one_of = strict_one_of
        self._uri = path.as_uri()
        self._registry = Registry().with_resource(self._uri, DRAFT4.create_resource(self.spec))
        routes = [(*_compile_template(template), template) for template in self.spec.get("paths", {})]
        self._routes = sorted(routes, key=lambda route: (route[0], route[2]))
        self._validators: dict[tuple[str, str, str], Validator | None] = {}

    @classmethod
    def moco(cls) -> OpenApiContract:
        """The shared contract for the MOCO spec."""
        return _shared(cls, SPEC_DIR / "moco-openapi.json")

    @classmethod
    def awork(cls) -> OpenApiContract:
        """The shared contract for the awork spec, with the invitation its docs show (`POST /invitations`)."""
        return _shared_awork(cls)

    # --- lookup -------------------------------------------------------------------------------------------------
    def _local_path(self, path: str) -> str:
        """`path` without query, `.json` suffix and base path."""
        path = path.split("?", 1)[0].removesuffix(".json")
        if self.base_path and (path == self.base_path or path.startswith(self.base_path + "/")):
            path = path[len(self.base_path) :]
        return "/" + path.strip("/")

    def find_operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """The (template, operation) answering `method path`; literal segments win over parameters."""
        local, verb = self._local_path(path), method.lower()
        for _, pattern, template in self._routes:
            operation = self.spec["paths"][template].get(verb)
            if operation is not None and pattern.fullmatch(local):
                return template, operation
        return None

    def _at(self, pointer: str) -> dict[str, Any]:
        """The spec's object at a JSON pointer."""
        return self._registry.resolver(self._uri).lookup(f"{self._uri}#{pointer}").contents

    def _deref(self, pointer: str, node: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Follow local `$ref`s (e.g. to `#/components/responses/...`) to the pointer and object they name."""
        while "$ref" in node:
            pointer = node["$ref"].removeprefix("#")
            node = self._at(pointer)
        return pointer, node

    def _object_keys(self, schema: dict[str, Any]) -> tuple[dict[str, Any], set[str], Any]:
        """Properties, required names and `additionalProperties` of an object schema, its `allOf` parts merged."""
        properties, required, additional = dict(schema.get("properties", {})), set(schema.get("required", ())), None
        for part in schema.get("allOf", ()):
            part_properties, part_required, part_additional = self._object_keys(self._deref("", part)[1])
            properties, required = properties | part_properties, required | part_required
            additional = additional if additional is not None else part_additional
        return properties, required, schema.get("additionalProperties", additional)

    def _key_errors(self, schema: dict[str, Any], value: object, where: str) -> list[str]:
        """Required keys `value` lacks and keys the schema neither lists nor requires, at every level."""
        schema = self._deref("", schema)[1]
        if alternatives := schema.get("oneOf") or schema.get("anyOf"):
            return min((self._key_errors(alternative, value, where) for alternative in alternatives), key=len)
        if isinstance(value, list) and "items" in schema:
            return [e for i, item in enumerate(value) for e in self._key_errors(schema["items"], item, f"{where}[{i}]")]
        if not isinstance(value, dict):
            return []
        properties, required, additional = self._object_keys(schema)
        errors = [f"response {where}: required key {key!r} missing" for key in sorted(required - value.keys())]
        for key, item in value.items():
            item_schema = properties.get(key, additional if isinstance(additional, dict) else None)
            if item_schema is not None:
                errors += self._key_errors(item_schema, item, f"{where}.{key}")
            elif key not in required and additional is not True:
                errors.append(f"response {where}.{key}: key not defined by the spec")
        return errors

    def _body_schema(self, pointer: str, node: dict[str, Any]) -> str | None:
        """Pointer to the body schema of a response or request body object; None if it declares none."""
        pointer, node = self._deref(pointer, node)
        content = node.get("content") or {}
        media = _media_type(content)
        if media is None or "schema" not in content[media]:
            return None
        return f"{pointer}/content/{_escape(media)}/schema"

    @staticmethod
    def _operation_pointer(template: str, method: str) -> str:
        return f"/paths/{_escape(template)}/{method.lower()}"

    def _response_schema(self, template: str, operation: dict[str, Any], method: str, status: int) -> str | None:
        """Pointer to the schema for `status`: its exact code, else its range (`2XX`), else `default`."""
        responses = operation.get("responses") or {}
        ranges = {key.upper(): key for key in responses}
        for key in (str(status), ranges.get(f"{status // 100}XX"), "default"):
            if key in responses:
                pointer = f"{self._operation_pointer(template, method)}/responses/{_escape(key)}"
                return self._body_schema(pointer, responses[key])
        return None

    def _validator(self, key: tuple[str, str, str], schema_pointer: str | None) -> Validator | None:
        """The compiled validator for a schema pointer (None: nothing to check), cached per operation and status."""
        if key not in self._validators:
            validator = None
            if schema_pointer is not None:
                cls = _validator_class(write=key[2] == "request", strict_one_of=self.strict_one_of)
                schema = {"$ref": f"{self._uri}#{schema_pointer}"}
                validator = cls(schema, registry=self._registry, format_checker=oas30_format_checker)
            self._validators[key] = validator
        return self._validators[key]

    # --- checks -------------------------------------------------------------------------------------------------
    @staticmethod
    def _unknown(method: str, path: str) -> list[str]:
        return [f"no operation in the spec for {method.upper()} {path}"]

    def response_errors(self, method: str, path: str, status: int, body: object) -> list[str]:
        """Errors of a response body against the schema declared for `status`.

        [] when the spec declares no body for `status`, or no body was sent (None; real MOCO answers some DELETEs
        with 200 and an empty body although the spec declares the deleted object).
        """
        found = self.find_operation(method, path)
        if found is None:
            return self._unknown(method, path)
        if body is None:
            return []
        template, operation = found
        schema = self._response_schema(template, operation, method, status)
        return _errors(self._validator((method.upper(), template, str(status)), schema), body, "response")

    def response_key_errors(self, method: str, path: str, status: int, body: object) -> list[str]:
        """The keys of a response body against the schema declared for `status`, at every level (objects, array
        items; `$ref`s followed, `allOf` parts merged, of `oneOf`/`anyOf` the closest alternative): required keys
        it lacks, and keys the schema does not define unless it admits `additionalProperties`. Unlike
        `response_errors`, undefined keys count where the schema is silent about `additionalProperties`."""
        found = self.find_operation(method, path)
        if found is None:
            return self._unknown(method, path)
        pointer = self._response_schema(*found, method, status)
        if pointer is None or body is None:
            return []
        return self._key_errors(self._at(pointer), body, "$")

    def request_errors(self, method: str, path: str, body: object) -> list[str]:
        """Errors of a request JSON body against the operation's `requestBody` schema."""
        found = self.find_operation(method, path)
        if found is None:
            return self._unknown(method, path)
        template, operation = found
        if "requestBody" not in operation:
            return []
        pointer, request_body = self._deref(
            f"{self._operation_pointer(template, method)}/requestBody", operation["requestBody"]
        )
        if body is None:
            return ["request body is required but none was sent"] if request_body.get("required") else []
        schema = self._body_schema(pointer, request_body)
        return _errors(self._validator((method.upper(), template, "request"), schema), body, "request")

    def check_exchange(
        self, method: str, path: str, request_body: object, status: int, response_body: object
    ) -> list[str]:
        """Request (write methods that sent a body) and response errors, each prefixed with `METHOD path status: `."""
        errors = []
        if method.upper() in WRITE_METHODS and request_body is not None:
            errors += self.request_errors(method, path, request_body)
        errors += self.response_errors(method, path, status, response_body)
        return [f"{method.upper()} {path} {status}: {error}" for error in dict.fromkeys(errors)]

    def _declares_response(self, method: str, path: str, status: int) -> bool:
        found = self.find_operation(method, path)
        return found is not None and self._response_schema(*found, method, status) is not None

    def assert_exchanges(self, exchanges: Iterable[Any]) -> None:
        """Raise ContractViolation listing the errors of all `exchanges` (e.g. `sandbox.core.LoggedRequest`s).

        Answers 429 and 5xx (usually injected faults) are skipped unless the spec declares a body for them, and so
        are answers a test deliberately corrupted (`corrupted`: a malformed payload, by definition off-spec).
        """
        errors: list[str] = []
        for exchange in exchanges:
            if getattr(exchange, "corrupted", False):
                continue
            method, path, status = exchange.method, exchange.path, exchange.status
            if (status == 429 or status >= 500) and not self._declares_response(method, path, status):
                continue
            errors += self.check_exchange(method, path, exchange.body, status, exchange.response_body)
        unique = list(dict.fromkeys(errors))
        if unique:
            raise ContractViolation(_summary(unique))


@functools.cache
def _shared(cls: type[OpenApiContract], spec_path: Path) -> OpenApiContract:
    return cls(spec_path)


def _json_content(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


# awork's docs show `POST /invitations`; the spec lists only GET and `/accept` but has the body and answer schemas.
AWORK_DOCUMENTED = {
    "/invitations": {
        "post": {
            "requestBody": _json_content("Invitation"),
            "responses": {"200": {"description": "OK", **_json_content("InvitationResponse")}},
        }
    }
}


@functools.cache
def _shared_awork(cls: type[OpenApiContract]) -> OpenApiContract:
    return cls(SPEC_DIR / "awork-openapi.json", documented=AWORK_DOCUMENTED)


def _with_operations(spec: dict[str, Any], documented: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The spec with the `documented` operations added (a copy; the cached spec stays as it is)."""
    if not documented:
        return spec
    paths = {template: dict(item) for template, item in spec["paths"].items()}
    for template, operations in documented.items():
        paths.setdefault(template, {}).update(operations)
    return {**spec, "paths": paths}
