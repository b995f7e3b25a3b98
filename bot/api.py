"""The HTTP API at /api/v1 (`[http] api = true`), served by `helpdesk run`'s web server.

Every request but the OpenAPI document carries `Authorization: Bearer <token>` (made with
`helpdesk api-token create`); a token may do what its scopes allow. Errors are JSON:
`{"error": {"code": "...", "message": "..."}}` with a 4xx status. Each token may make
`api_requests_per_minute` requests per minute in each process; bodies are capped at
`api_max_body_kb`. `ROUTES` is the one list of endpoints: the router and the OpenAPI document
(bot/api_schema.py) are both made from it."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot import api_bodies as bodies
from bot.api_schema import openapi_document
from core.api.acting import ApiError
from core.api.service import ApiService
from core.api.tickets import TicketChanges
from core.domain import Ban, Priority, TicketFilter, TicketMessage, TicketStatus
from core.domain import User as Person
from core.domain_toolkit import ApiToken
from core.reports.format import report_json
from core.staff.ban_commands import parse_duration
from core.store import StoreUnavailable
from core.tickets.events import ticket_json

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
Handler = Callable[["Call"], Awaitable[Any]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # below PREFIX
    scope: str | None  # None: no token needed
    handler: str  # the `ApiHandlers` method
    summary: str
    body: type[BaseModel] | None = None
    query: tuple[tuple[str, str], ...] = ()  # (name, description) of query parameters
    status: int = 200


ROUTES = (
    Route("GET", "/openapi.json", None, "openapi", "This document"),
    Route("GET", "/tickets", "tickets:read", "list_tickets",
          "Tickets by filter, in the order they changed (cursor pagination)",
          query=(("status", "new, open, waiting, resolved, closed (comma-separated)"),
                 ("line", "a support line's name"), ("assignee", "channel:id of an agent"),
                 ("priority", "low, normal, high, urgent"),
                 ("updated_since", "ISO 8601 moment"), ("limit", "1-200, default 50"),
                 ("cursor", "next_cursor of the previous page"))),
    Route("POST", "/tickets", "tickets:write", "open_ticket",
          "Open a ticket for a user who wrote before, or for an e-mail address",
          body=bodies.NewTicket, status=201),
    Route("GET", "/tickets/{number}", "tickets:read", "get_ticket", "A ticket with its messages"),
    Route("PATCH", "/tickets/{number}", "tickets:write", "change_ticket",
          "Change status, priority, category, assignee or line (escalation)",
          body=bodies.TicketPatch),
    Route("POST", "/tickets/{number}/replies", "tickets:write", "reply",
          "Answer the user (relayed to their messenger)", body=bodies.Text, status=201),
    Route("POST", "/tickets/{number}/notes", "tickets:write", "note",
          "An internal note (staff only)", body=bodies.Text, status=201),
    Route("GET", "/kb/entries", "kb:read", "list_entries", "Every knowledge-base entry"),
    Route("POST", "/kb/entries", "kb:write", "create_entry", "A new entry",
          body=bodies.NewEntry, status=201),
    Route("GET", "/kb/entries/{entry_id}", "kb:read", "get_entry", "One entry"),
    Route("PATCH", "/kb/entries/{entry_id}", "kb:write", "change_entry",
          "Change an entry (fields left out keep their value)", body=bodies.EntryPatch),
    Route("DELETE", "/kb/entries/{entry_id}", "kb:write", "delete_entry", "Delete an entry",
          status=204),
    Route("GET", "/users/{channel}/{user_id}", "users:read", "get_user",
          "A user with their latest tickets"),
    Route("PUT", "/users/{channel}/{user_id}/ban", "users:write", "ban", "Ban a user",
          body=bodies.BanBody),
    Route("DELETE", "/users/{channel}/{user_id}/ban", "users:write", "unban", "Lift a ban",
          status=204),
    Route("GET", "/reports/stats", "reports:read", "stats", "The /stats figures",
          query=(("from", "first day, YYYY-MM-DD"), ("to", "last day, YYYY-MM-DD"),
                 ("line", "a support line's name (default: all)"))),
)  # fmt: skip


@dataclass
class Call:
    """One request: who makes it, its path parameters, query and parsed body."""

    request: web.Request
    token: ApiToken | None
    body: Any = None

    def param(self, name: str) -> str:
        return self.request.match_info[name]

    def number(self, name: str) -> int:
        value = self.param(name)
        if not value.isdigit() or len(value) > 12:
            raise ApiError(404, "not_found", f"{name} must be a number")
        return int(value)

    def query(self, name: str) -> str | None:
        value = self.request.query.get(name)
        return value if value not in (None, "") else None


class RateLimit:
    """A token bucket per token: `per_minute` requests, refilled evenly."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.buckets: dict[int, tuple[float, float]] = {}  # token id -> (tokens, at)

    def allow(self, token_id: int) -> float | None:
        """None when allowed; else the seconds until the next request would be."""
        now = self.clock()
        left, at = self.buckets.get(token_id, (float(self.per_minute), now))
        left = min(float(self.per_minute), left + (now - at) * self.per_minute / 60)
        if left < 1:
            self.buckets[token_id] = (left, now)
            return (1 - left) * 60 / self.per_minute
        self.buckets[token_id] = (left - 1, now)
        return None


class ApiHandlers:
    def __init__(self, service: ApiService, per_minute: int, max_body_bytes: int) -> None:
        self.tickets, self.directory = service.tickets, service.directory
        self.limit = RateLimit(per_minute)
        self.max_body_bytes = max_body_bytes

    def routes(self) -> list[tuple[str, str, Callable]]:
        """Every endpoint, then a JSON 404 for any other path under the prefix."""
        return [(r.method, PREFIX + r.path, self._endpoint(r)) for r in ROUTES] + [
            ("*", PREFIX + "/{tail:.*}", self._unknown)
        ]

    async def _unknown(self, request: web.Request) -> web.Response:
        return _error(404, "no_such_endpoint", f"see {PREFIX}/openapi.json for the endpoints")

    def _endpoint(self, route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
        handler: Handler = getattr(self, route.handler)

        async def endpoint(request: web.Request) -> web.Response:
            try:
                token = await self._authorized(request, route)
                call = Call(request, token, await self._body(request, route))
                result = await handler(call)
            except ApiError as error:
                headers = (
                    {"Retry-After": str(math.ceil(error.retry_after))}
                    if error.retry_after
                    else None
                )
                return _error(error.status, error.code, error.detail, headers)
            except StoreUnavailable:
                return _error(503, "unavailable", "the database is away; try again shortly")
            if route.status == 204:
                return web.Response(status=204)
            return web.json_response(result, status=route.status, dumps=_dumps)

        return endpoint

    async def _authorized(self, request: web.Request, route: Route) -> ApiToken | None:
        if route.scope is None:
            return None
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>")
        token = await self.directory.authenticate(secret.strip())
        if token is None:
            log.warning("API request with an unknown token", extra={"path": request.path})
            raise ApiError(401, "unauthorized", "unknown or revoked token")
        wait = self.limit.allow(token.id)
        if wait is not None:
            error = ApiError(429, "rate_limited", f"too many requests; retry in {wait:.1f} s")
            error.retry_after = wait
            raise error
        if route.scope not in token.scopes:
            raise ApiError(403, "forbidden", f"this token lacks the {route.scope} scope")
        return token

    async def _body(self, request: web.Request, route: Route) -> BaseModel | None:
        if route.body is None:
            return None
        too_large = ApiError(413, "body_too_large", f"bodies are at most {self.max_body_bytes} B")
        if (request.content_length or 0) > self.max_body_bytes:
            raise too_large
        raw = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            raw += chunk
            if len(raw) > self.max_body_bytes:  # a body sent without its length
                raise too_large
        try:
            return route.body.model_validate_json(bytes(raw) or b"{}")
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                for e in error.errors()
            )
            raise ApiError(422, "invalid_body", problems) from error

    # -- endpoints

    async def openapi(self, call: Call) -> dict:
        return openapi_document(ROUTES, PREFIX)

    async def list_tickets(self, call: Call) -> dict:
        line = call.query("line")
        where = TicketFilter(
            statuses=frozenset(_enums(TicketStatus, call.query("status"), "status")),
            lines=self.tickets.line_filter(line) if line else frozenset(),
            assignee_id=await self._assignee_id(call.query("assignee")),
            priority=next(iter(_enums(Priority, call.query("priority"), "priority")), None),
            updated_since=_moment(call.query("updated_since")),
        )
        limit = call.query("limit") or "50"
        if not limit.isdigit():
            raise ApiError(400, "bad_limit", "limit must be a number")
        page = await self.tickets.tickets(where, call.query("cursor"), int(limit))
        return {"tickets": [ticket_json(t) for t in page.tickets], "next_cursor": page.cursor}

    async def _assignee_id(self, reference: str | None) -> int | None:
        if reference is None:
            return None
        channel, _, external_id = reference.partition(":")
        user, _ = await self.directory.user(channel, external_id)
        return user.id

    async def open_ticket(self, call: Call) -> dict:
        body: bodies.NewTicket = call.body
        person = ("email", body.email.lower()) if body.email else (body.user.channel, body.user.id)
        ticket, notices = await self.tickets.open_ticket(
            call.token, person, body.text, name=body.name or "", subject=body.subject,
            priority=body.priority, category=body.category, line=body.line,
        )  # fmt: skip
        return {"ticket": ticket_json(ticket), "notices": notices}

    async def get_ticket(self, call: Call) -> dict:
        ticket, owner, messages = await self.tickets.ticket(call.number("number"))
        return {
            "ticket": ticket_json(ticket),
            "user": _person(owner) if owner else None,
            "messages": [_message(m) for m in messages],
        }

    async def change_ticket(self, call: Call) -> dict:
        body: bodies.TicketPatch = call.body
        changes = TicketChanges(**body.model_dump(exclude_none=True))
        ticket, notices = await self.tickets.change(call.token, call.number("number"), changes)
        return {"ticket": ticket_json(ticket), "notices": notices}

    async def reply(self, call: Call) -> dict:
        ticket, notices = await self.tickets.reply(
            call.token, call.number("number"), call.body.text
        )
        return {"ticket": ticket_json(ticket), "notices": notices}

    async def note(self, call: Call) -> dict:
        ticket = await self.tickets.note(call.token, call.number("number"), call.body.text)
        return {"ticket": ticket_json(ticket)}

    async def list_entries(self, call: Call) -> dict:
        return {"entries": [e.as_record() for e in await self.directory.entries()]}

    async def create_entry(self, call: Call) -> dict:
        fields = call.body.model_dump(exclude_unset=True)
        return (await self.directory.save_entry(call.token, None, fields)).as_record()

    async def get_entry(self, call: Call) -> dict:
        return (await self.directory.entry(call.number("entry_id"))).as_record()

    async def change_entry(self, call: Call) -> dict:
        fields = call.body.model_dump(exclude_unset=True)
        entry_id = call.number("entry_id")
        return (await self.directory.save_entry(call.token, entry_id, fields)).as_record()

    async def delete_entry(self, call: Call) -> None:
        await self.directory.delete_entry(call.token, call.number("entry_id"))

    async def get_user(self, call: Call) -> dict:
        user, tickets = await self.directory.user(call.param("channel"), call.param("user_id"))
        return {"user": _person(user), "tickets": [ticket_json(t) for t in tickets]}

    async def ban(self, call: Call) -> dict:
        body: bodies.BanBody = call.body
        duration = parse_duration(body.duration) if body.duration else None
        if body.duration and duration is None:
            raise ApiError(422, "bad_duration", "duration is like 30m, 12h, 7d or 2w")
        person = (call.param("channel"), call.param("user_id"))
        ban = await self.directory.ban(call.token, person, body.shadow, duration, body.reason)
        return {"ban": _ban(ban)}

    async def unban(self, call: Call) -> None:
        person = (call.param("channel"), call.param("user_id"))
        if not await self.directory.unban(call.token, person):
            raise ApiError(404, "not_banned", "this user is not banned")

    async def stats(self, call: Call) -> dict:
        first, last = call.query("from"), call.query("to")
        if first is None or last is None:
            raise ApiError(400, "bad_period", "give from and to, days YYYY-MM-DD")
        return report_json(await self.directory.report(first, last, call.query("line")))


# -- JSON shapes


def _message(message: TicketMessage) -> dict:
    return {
        "id": message.id,
        "direction": message.direction.value,
        "author_id": message.author_user_id,
        "text": message.text,
        "attachments": [a.to_dict() for a in message.attachments],
        "created_at": message.created_at.isoformat(),
    }


def _person(user: Person) -> dict:
    return {
        "id": user.id,
        "channel": user.channel,
        "external_id": user.external_id,
        "name": user.name,
        "language": user.language,
        "created_at": user.created_at.isoformat(),
        "ban": _ban(user.ban) if user.ban else None,
    }


def _ban(ban: Ban) -> dict:
    return {
        "shadow": ban.shadow,
        "since": ban.since.isoformat(),
        "until": ban.until.isoformat() if ban.until else None,
        "reason": ban.reason,
        "by": ban.by,
    }


def _enums(kind, text: str | None, name: str) -> list:
    try:
        return [kind(word.strip()) for word in (text or "").split(",") if word.strip()]
    except ValueError as error:
        known = ", ".join(member.value for member in kind)
        raise ApiError(400, f"bad_{name}", f"{name} is one of {known}") from error


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise ApiError(400, "bad_updated_since", "updated_since is an ISO 8601 moment") from error
    if moment.tzinfo is None:
        raise ApiError(400, "bad_updated_since", "updated_since needs a time zone (Z or +hh:mm)")
    return moment


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": {"code": code, "message": message}}
    return web.json_response(body, status=status, headers=headers)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
