"""`helpdesk user export|erase CHANNEL:ID`: everything kept of one person, and its erasure,
which leaves every other person's data as it was; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from bot.cli import main
from core.domain import Direction
from storage.models import questions
from tests.harness import CHANNEL, Harness

ERASED = "[erased]"


async def conversation(store) -> Harness:
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("What are your support hours?")  # logged: the question log
    await bot.user_says("/new my laptop at 12 Baker Street will not boot")
    await bot.agent_replies("Bring it to desk 4, Ann", 1)
    await bot.agent_replies("/close Replaced the disk", 1)
    await bot.user_says("/rate 1 2 it took too long for Ann Smith")
    await bot.user_says("/new the printer jams", user="bob")
    return bot


def run_cli(tmp_path, database_url: str, *args: str) -> int:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n', encoding="utf-8")
    return main(["--config", str(config), *args])


async def test_export_has_everything_kept_of_the_person(store, database_url, tmp_path):
    await conversation(store)
    out = tmp_path / "u1.json"
    status = await asyncio.to_thread(
        run_cli, tmp_path, database_url, "user", "export", f"{CHANNEL}:u1", "--file", str(out)
    )
    assert status == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["user"]["external_id"] == "u1" and data["user"]["display_name"] == "U1"
    assert [t["subject"] for t in data["tickets"]] == ["my laptop at 12 Baker Street will not boot"]
    texts = [m["text"] for m in data["messages"]]
    assert "Bring it to desk 4, Ann" in texts  # the agents' replies on their ticket too
    assert [r["comment"] for r in data["ratings"]] == ["it took too long for Ann Smith"]
    assert [q["text"] for q in data["questions"]] == ["What are your support hours?"]
    assert all("printer" not in m["text"] for m in data["messages"])  # nothing of bob's
    unknown = await asyncio.to_thread(run_cli, tmp_path, database_url, "user", "export", "x:y")
    assert unknown == 1


async def test_erase_removes_who_they_are_and_what_they_wrote_only(store, database_url, tmp_path):
    await conversation(store)
    refused = await asyncio.to_thread(
        run_cli, tmp_path, database_url, "user", "erase", f"{CHANNEL}:u1"
    )
    assert refused == 1  # without --yes nothing happens
    async with store.transaction() as tx:
        assert await tx.users.find(CHANNEL, "u1") is not None
    erased = await asyncio.to_thread(
        run_cli, tmp_path, database_url, "user", "erase", f"{CHANNEL}:u1", "--yes"
    )
    assert erased == 0
    async with store.transaction() as tx:
        assert await tx.users.find(CHANNEL, "u1") is None  # a later message starts afresh
        ticket = await tx.tickets.get(1)
        messages = await tx.messages.list(1)
        rating = await tx.ratings.get(1)
        bob = await tx.users.find(CHANNEL, "bob")
        bobs = await tx.messages.list(2)
        audit = [entry.action for entry in await tx.audit.list(limit=200)]
        erased_user = await tx.users.get(ticket.user_id)
        asked = await tx.run_sync(
            lambda c: [row.text for row in c.execute(select(questions.c.text, questions.c.user_id))]
        )
    assert ticket.subject == ERASED and ticket.status.value == "closed"  # reports stay right
    spoken = [m for m in messages if m.direction in (Direction.FROM_USER, Direction.TO_USER)]
    assert spoken and all(m.text == ERASED and not m.attachments for m in spoken)
    assert rating.score == 2 and rating.comment is None
    assert erased_user.display_name == "" and erased_user.chat is None
    assert bob is not None and [m.text for m in bobs][0] == "the printer jams"
    assert "user.erased" in audit
    assert asked == [ERASED]  # bob asked nothing: he opened his ticket with /new
    data = await asyncio.to_thread(
        run_cli, tmp_path, database_url, "user", "export", f"{CHANNEL}:bob"
    )
    assert data == 0
