"""The HTTP API against a real `helpdesk run` process: tokens made by the CLI, every endpoint,
every scope refusal, bad tokens and bad bodies; what an API call does reaches the user on the
fake Telegram server and the staff chat like an agent's command."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.api import PREFIX, ROUTES, ApiHandlers, RateLimit
from bot.api_schema import openapi_document
from bot.engine import EngineConfig, build_api, build_engine
from core.api.service import ApiService
from core.knowledge_base import KnowledgeBase
from core.messages import ConversationRef
from knowledge.matcher import FuzzyMatcher
from storage import SqlStore
from storage.urls import parse_database_url
from tests.fakes.telegram import FakeTelegram
from tests.process import helpdesk_process, telegram_config
from tests.test_monitoring import free_port

OLGA, PAVEL, AGENT = 4242, 6161, 5151
STAFF, SECOND = -1001234567890, -1009876543210
ALL_SCOPES = ("tickets:read", "tickets:write", "kb:read", "kb:write", "users:read",
              "users:write", "reports:read")  # fmt: skip
PER_MINUTE = 100


def config(directory: Path, telegram: FakeTelegram, port: int) -> Path:
    second = f'{{ name = "L2", channel = "telegram", chat_id = "{SECOND}" }}'
    return telegram_config(
        directory, telegram, staff=f'line = "L1"\nlines = [{second}]',
        more=f"""
[roles]
agents = ["telegram:{AGENT}"]

[http]
port = {port}
api = true
api_requests_per_minute = {PER_MINUTE}
api_max_body_kb = 4
""",
    )  # fmt: skip


async def cli(config_path: Path, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config_path), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    return process.returncode, out.decode()


async def make_token(config_path: Path, name: str, *scopes: str) -> str:
    arguments = [item for scope in scopes for item in ("--scope", scope)]
    code, out = await cli(config_path, "api-token", "create", name, *arguments)
    assert code == 0, out
    return out.strip().splitlines()[-1]


class Client:
    def __init__(self, http: aiohttp.ClientSession, base: str, token: str | None) -> None:
        self.http, self.base, self.token = http, base, token

    async def __call__(self, method: str, path: str, body=None, *, raw: bytes | None = None):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(
            method, self.base + path, json=body if raw is None else None, data=raw,
            headers=headers,
        ) as response:  # fmt: skip
            payload = await response.json() if response.status != 204 else None
            return response.status, payload


async def test_the_api_of_a_running_process(tmp_path):
    port = free_port()
    async with FakeTelegram() as telegram:
        telegram.add_user(OLGA, "Olga", language_code="en")
        telegram.add_user(AGENT, "Bob", language_code="en")
        telegram.add_user(PAVEL, "Pavel", language_code="en")
        path = config(tmp_path, telegram, port)
        async with helpdesk_process(path):
            telegram.inject(telegram.make_text_update(OLGA, "/new my printer is broken"))
            telegram.inject(telegram.make_text_update(AGENT, "/help"))
            await telegram.wait_until(lambda: telegram.sent_messages(STAFF), within=60)
            await telegram.wait_until(lambda: telegram.sent_messages(AGENT), within=30)
            full = await make_token(path, "full", *ALL_SCOPES)
            stats_only = await make_token(path, "stats", "reports:read")
            tickets_only = await make_token(path, "viewer", "tickets:read")
            burst = await make_token(path, "burst", "kb:read")
            async with aiohttp.ClientSession() as http:
                base = f"http://127.0.0.1:{port}{PREFIX}"
                api = Client(http, base, full)
                await _refusals(http, base, api, stats_only, tickets_only)
                await _tickets(api, telegram)
                await _knowledge_base(api, telegram)
                await _users_and_reports(api)
                await _limits(Client(http, base, burst), api)
            code, _ = await cli(path, "api-token", "revoke", "full")
            assert code == 0
            async with aiohttp.ClientSession() as http:
                status, body = await Client(http, base, full)("GET", "/tickets")
                assert (status, body["error"]["code"]) == (401, "unauthorized")

    database = sqlite3.connect(tmp_path / "helpdesk.sqlite3")
    audited = {
        (actor, action) for actor, action in database.execute("SELECT actor, action FROM audit_log")
    }
    assert {
        ("cli", "api_token.create"), ("cli", "api_token.revoke"), ("api:full", "faq.create"),
        ("api:full", "faq.update"), ("api:full", "faq.delete"), ("api:full", "user.ban"),
        ("api:full", "user.unban"), ("api:full", "ticket.priority"),
        ("api:full", "ticket.assignee"), ("api:full", "ticket.status"),
        ("api:full", "ticket.line"), ("api:full", "ticket.create"),
    } <= audited  # fmt: skip
    hashes = [row[0] for row in database.execute("SELECT token_hash FROM api_tokens")]
    assert full not in hashes and all(len(h) == 64 for h in hashes)  # only hashes are kept


async def _refusals(http, base: str, api: Client, stats_only: str, tickets_only: str) -> None:
    """Every endpoint of the document exists in the server, wants a token, refuses a token
    without its scope; the document itself is public."""
    status, document = await Client(http, base, None)("GET", "/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.")
    nobody, stranger = Client(http, base, None), Client(http, base, "hd_not-a-token")
    lacking = {scope: Client(http, base, stats_only) for scope in ALL_SCOPES}
    lacking["reports:read"] = Client(http, base, tickets_only)
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not operation["security"]:
                continue
            scope = operation["security"][0]["token"][0]
            url = path.removeprefix(PREFIX).format(
                number="1", entry_id="1", channel="telegram", user_id=str(OLGA)
            )
            status, body = await nobody(method.upper(), url)
            assert (status, body["error"]["code"]) == (401, "unauthorized"), (method, path)
            status, body = await stranger(method.upper(), url)
            assert (status, body["error"]["code"]) == (401, "unauthorized"), (method, path)
            status, body = await lacking[scope](method.upper(), url, {})
            assert (status, body["error"]["code"]) == (403, "forbidden"), (method, path)
            assert scope in body["error"]["message"]
            checked += 1
    assert checked == len([route for route in ROUTES if route.scope])
    status, body = await api("GET", "/no/such/thing")
    assert (status, body["error"]["code"]) == (404, "no_such_endpoint")


async def _tickets(api: Client, telegram: FakeTelegram) -> None:
    status, body = await api("GET", "/tickets?status=new")
    assert status == 200 and [t["number"] for t in body["tickets"]] == [1]
    assert body["tickets"][0]["subject"] == "my printer is broken"
    assert body["next_cursor"] is None
    status, body = await api("GET", "/tickets?status=closed")
    assert body["tickets"] == []
    status, body = await api("GET", "/tickets?status=lost")
    assert (status, body["error"]["code"]) == (400, "bad_status")
    status, body = await api("GET", "/tickets?updated_since=yesterday")
    assert (status, body["error"]["code"]) == (400, "bad_updated_since")

    before = len(telegram.sent_messages(OLGA))
    status, body = await api("POST", "/tickets/1/replies", {"text": "Is it plugged in?"})
    assert status == 201 and body["ticket"]["status"] == "open"
    await telegram.wait_until(
        lambda: any("Is it plugged in?" in m["text"] for m in telegram.sent_messages(OLGA)[before:])
    )
    status, body = await api("POST", "/tickets/1/notes", {"text": "Model LJ-4000, floor 3"})
    assert status == 201
    await telegram.wait_until(
        lambda: any("LJ-4000" in m.get("text", "") for m in telegram.sent_messages(STAFF))
    )
    assert not any("LJ-4000" in m.get("text", "") for m in telegram.sent_messages(OLGA))

    status, body = await api(
        "PATCH", "/tickets/1",
        {"priority": "high", "category": "hardware", "assignee": f"telegram:{AGENT}"},
    )  # fmt: skip
    ticket = body["ticket"]
    assert status == 200 and (ticket["priority"], ticket["category"]) == ("high", "hardware")
    assert ticket["assignee_id"] is not None
    status, body = await api("PATCH", "/tickets/1", {"assignee": f"telegram:{OLGA}"})
    assert (status, body["error"]["code"]) == (422, "not_an_agent")
    status, body = await api("PATCH", "/tickets/1", {"line": "L2", "note": "needs a technician"})
    assert status == 200 and body["ticket"]["line"] == "L2"
    await telegram.wait_until(lambda: telegram.sent_messages(SECOND))
    status, body = await api("GET", "/tickets?line=L2")
    assert [t["number"] for t in body["tickets"]] == [1]
    status, body = await api("GET", "/tickets?line=L1")
    assert body["tickets"] == []
    status, body = await api("PATCH", "/tickets/1", {"line": "L9"})
    assert (status, body["error"]["code"]) == (422, "unknown_line")
    status, body = await api("PATCH", "/tickets/1", {"status": "resolved", "note": "new fuser"})
    assert status == 200 and body["ticket"]["status"] == "resolved"
    await telegram.wait_until(
        lambda: any("new fuser" in m["text"] for m in telegram.sent_messages(OLGA))
    )
    status, body = await api("PATCH", "/tickets/1", {"status": "new"})
    assert (status, body["error"]["code"]) == (422, "bad_status")

    status, body = await api("GET", "/tickets/1")
    assert status == 200 and body["user"]["external_id"] == str(OLGA)
    said = [(m["direction"], m["text"]) for m in body["messages"]]
    assert ("from_user", "my printer is broken") in said
    assert ("to_user", "Is it plugged in?") in said and ("note", "Model LJ-4000, floor 3") in said
    status, body = await api("GET", "/tickets/99")
    assert (status, body["error"]["code"]) == (404, "ticket_not_found")
    status, body = await api("GET", "/tickets/abc")
    assert status == 404

    alert = {"user": {"channel": "telegram", "id": str(OLGA)}, "text": "Disk full on db-1",
             "priority": "urgent", "line": "L2", "subject": "db-1 disk"}  # fmt: skip
    status, body = await api("POST", "/tickets", alert)
    assert status == 201
    opened = body["ticket"]
    assert (opened["number"], opened["priority"], opened["line"]) == (2, "urgent", "L2")
    assert opened["subject"] == "db-1 disk"
    await telegram.wait_until(lambda: len(telegram.sent_messages(SECOND)) >= 2)
    status, body = await api("POST", "/tickets", {"email": "ann@example.com", "text": "hi"})
    assert (status, body["error"]["code"]) == (422, "channel_unavailable")
    status, body = await api("POST", "/tickets", {"user": {"channel": "telegram", "id": "1"},
                                                  "text": "hi"})  # fmt: skip
    assert (status, body["error"]["code"]) == (404, "user_not_found")
    for bad in ({"text": "no one"}, {**alert, "email": "a@b.co"}, {**alert, "colour": "red"},
                {**alert, "text": ""}, {**alert, "priority": "asap"}):  # fmt: skip
        status, body = await api("POST", "/tickets", bad)
        assert (status, body["error"]["code"]) == (422, "invalid_body"), bad
    status, body = await api("POST", "/tickets", raw=b"{not json")
    assert (status, body["error"]["code"]) == (422, "invalid_body")

    status, first = await api("GET", "/tickets?limit=1")
    status, second = await api("GET", f"/tickets?limit=1&cursor={first['next_cursor']}")
    assert [t["number"] for t in first["tickets"] + second["tickets"]] == [1, 2]
    assert second["next_cursor"] is None
    status, body = await api("GET", "/tickets?cursor=garbage")
    assert (status, body["error"]["code"]) == (400, "bad_cursor")


async def _knowledge_base(api: Client, telegram: FakeTelegram) -> None:
    entry = {"question": "How do I book a meeting room?", "language": "en",
             "answer": "Use the Rooms app and pick a free slot.", "category": "office"}  # fmt: skip
    status, created = await api("POST", "/kb/entries", entry)
    assert status == 201 and created["question"] == entry["question"]
    entry_id = created["id"]
    telegram.inject(telegram.make_text_update(PAVEL, "how do I book a meeting room"))
    await telegram.wait_until(
        lambda: any("Rooms app" in m["text"] for m in telegram.sent_messages(PAVEL)), within=15
    )
    status, changed = await api("PATCH", f"/kb/entries/{entry_id}", {"variants": ["book room"]})
    assert status == 200 and changed["variants"] == ["book room"]
    assert changed["answer"] == entry["answer"]
    status, body = await api("PATCH", f"/kb/entries/{entry_id}", {"language": "de"})
    assert (status, body["error"]["code"]) == (422, "bad_language")
    status, body = await api("POST", "/kb/entries", {"question": "q"})
    assert (status, body["error"]["code"]) == (422, "invalid_body")
    status, body = await api("GET", f"/kb/entries/{entry_id}")
    assert status == 200 and body["category"] == "office"
    status, body = await api("GET", "/kb/entries")
    assert entry_id in [e["id"] for e in body["entries"]]
    status, _ = await api("DELETE", f"/kb/entries/{entry_id}")
    assert status == 204
    status, body = await api("GET", f"/kb/entries/{entry_id}")
    assert (status, body["error"]["code"]) == (404, "entry_not_found")


async def _users_and_reports(api: Client) -> None:
    status, body = await api("GET", f"/users/telegram/{OLGA}")
    assert status == 200 and body["user"]["name"] == "Olga" and body["user"]["ban"] is None
    assert sorted(t["number"] for t in body["tickets"]) == [1, 2]
    status, body = await api("GET", "/users/telegram/1")
    assert (status, body["error"]["code"]) == (404, "user_not_found")
    status, body = await api("PUT", f"/users/telegram/{OLGA}/ban",
                             {"duration": "2h", "reason": "spam"})  # fmt: skip
    assert status == 200 and body["ban"]["reason"] == "spam" and body["ban"]["until"]
    assert body["ban"]["by"] == "api:full"
    status, body = await api("PUT", f"/users/telegram/{OLGA}/ban", {"duration": "forever"})
    assert (status, body["error"]["code"]) == (422, "bad_duration")
    status, body = await api("PUT", f"/users/telegram/{AGENT}/ban", {})
    assert (status, body["error"]["code"]) == (409, "staff_member")
    status, _ = await api("DELETE", f"/users/telegram/{OLGA}/ban")
    assert status == 204
    status, body = await api("DELETE", f"/users/telegram/{OLGA}/ban")
    assert (status, body["error"]["code"]) == (404, "not_banned")

    today = datetime.now(UTC).date()
    first = (today - timedelta(days=1)).isoformat()
    status, body = await api("GET", f"/reports/stats?from={first}&to={today.isoformat()}")
    assert status == 200 and body["tickets"]["opened"] == 2
    assert body["backlog"]["by_line"] == {"L2": 1}
    status, body = await api("GET", f"/reports/stats?from={first}&to={first}&line=L1")
    assert status == 200 and body["line"] == "L1"
    status, body = await api("GET", "/reports/stats?from=monday")
    assert (status, body["error"]["code"]) == (400, "bad_period")


async def _limits(burst: Client, api: Client) -> None:
    status, body = await api("POST", "/tickets/1/notes", raw=b'{"text": "' + b"x" * 5000 + b'"}')
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    statuses = [(await burst("GET", "/kb/entries"))[0] for _ in range(PER_MINUTE + 1)]
    assert statuses[:PER_MINUTE] == [200] * PER_MINUTE
    assert statuses[PER_MINUTE] == 429
    async with burst.http.get(
        burst.base + "/kb/entries", headers={"Authorization": f"Bearer {burst.token}"}
    ) as response:
        assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
    status, _ = await api("GET", "/kb/entries")  # another token is not held up
    assert status == 200


def test_the_document_lists_exactly_the_routes_the_server_has():
    application = web.Application()
    handlers = ApiHandlers(ApiService(None, None), 1, 1)  # type: ignore[arg-type]
    for method, path, handler in handlers.routes():
        application.router.add_route(method, path, handler)
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in application.router.routes()
        if route.method not in ("*", "HEAD") and not route.resource.canonical.endswith("{tail}")
    }
    document = openapi_document(ROUTES, PREFIX)
    listed = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert served == listed and len(listed) == len(ROUTES)


def test_a_token_gets_its_requests_per_minute_then_waits():
    now = [0.0]
    limit = RateLimit(60, clock=lambda: now[0])
    assert all(limit.allow(1) is None for _ in range(60))
    assert limit.allow(1) == 1.0  # one more a second
    assert limit.allow(2) is None  # each token has its own
    now[0] += 1.0
    assert limit.allow(1) is None and limit.allow(1) is not None


async def test_a_database_that_does_not_answer_gets_a_503_not_a_crash():
    """A store whose PostgreSQL server is down (nothing listens on port 1)."""
    store = SqlStore(parse_database_url("postgresql://nobody@127.0.0.1:1/none"))
    config = EngineConfig(ConversationRef("memory", "staff"), 0.75, 0.5)
    engine = build_engine(config, store, KnowledgeBase(FuzzyMatcher(), store))
    handlers = ApiHandlers(build_api(engine, config, ()), 10, 1024)
    application = web.Application()
    for method, path, handler in handlers.routes():
        application.router.add_route(method, path, handler)
    try:
        async with TestClient(TestServer(application)) as client:
            response = await client.get(
                f"{PREFIX}/tickets", headers={"Authorization": "Bearer hd_x"}
            )
            assert response.status == 503
            assert (await response.json())["error"]["code"] == "unavailable"
    finally:
        await store.close()
