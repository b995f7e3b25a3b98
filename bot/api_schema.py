"""The OpenAPI 3.1 document of the HTTP API, made from `bot.api.ROUTES` (so it cannot list an
endpoint the router lacks, nor miss one) and the pydantic bodies' JSON Schemas."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from core.api.tokens import SCOPES

_PARAMETER = re.compile(r"\{(\w+)\}")
_ERROR = {"$ref": "#/components/schemas/Error"}


def openapi_document(routes: Sequence, prefix: str) -> dict[str, Any]:
    paths: dict[str, dict] = {}
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    "required": ["code", "message"],
                }
            },
        }
    }
    for route in routes:
        operation: dict[str, Any] = {
            "operationId": route.handler,
            "summary": route.summary,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _PARAMETER.findall(route.path)
            ]
            + [
                {"name": name, "in": "query", "description": text, "schema": {"type": "string"}}
                for name, text in route.query
            ],
            "responses": _responses(route),
        }
        if route.scope is not None:
            operation["security"] = [{"token": [route.scope]}]
            operation["description"] = f"Scope: `{route.scope}`."
        else:
            operation["security"] = []
        if route.body is not None:
            name = route.body.__name__
            schema = route.body.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[name] = schema
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                },
            }
        paths.setdefault(prefix + route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Helpdesk API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `helpdesk api-token create`. Scopes: "
                    + "; ".join(f"`{name}`: {text}" for name, text in SCOPES.items()),
                }
            },
        },
    }


def _responses(route) -> dict[str, Any]:
    ok = {"description": "done"} if route.status == 204 else {
        "description": "done",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }  # fmt: skip
    responses: dict[str, Any] = {str(route.status): ok}
    errors = {"400": "bad query", "404": "not found", "409": "not in a state for this",
              "413": "body too large", "422": "invalid body or values"}  # fmt: skip
    if route.scope is not None:
        errors |= {"401": "no or unknown token", "403": "scope missing", "429": "rate limited"}
    for status, text in sorted(errors.items()):
        responses[status] = {
            "description": text,
            "content": {"application/json": {"schema": _ERROR}},
        }
    return responses
