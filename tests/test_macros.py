"""Canned replies as a conversation, on every storage backend: saved per language, sent in the
user's language with the placeholders filled, without resolving the ticket; listed, replaced,
deleted, audited; refused without the agent role."""

from __future__ import annotations

from core.domain import TicketStatus
from core.staff.macro_commands import fill, parse_texts
from core.tickets.policy import TicketPolicy
from tests.harness import ADMIN, AGENT, CHANNEL, Harness

ROLES = {(CHANNEL, ADMIN): frozenset({"admin"}), (CHANNEL, AGENT): frozenset({"agent"})}
RESET = (
    "/macro add reset\n"
    "en: Hi {name}, your password is reset (ticket #{ticket}).\n"
    "Sign in again. {agent}\n"
    "ru: {name}, пароль сброшен (обращение №{ticket}). {agent}"
)


def desk(store) -> Harness:
    return Harness(store, bootstrap_roles=ROLES, tickets=TicketPolicy(require_agent_role=True))


async def staff_says(h: Harness, text: str, agent: str = AGENT) -> str:
    await h.deliver(h.staff_message(text, agent=agent))
    return h.to_staff()[-1].message.text


async def test_a_macro_reaches_each_user_in_their_language_and_leaves_the_ticket_open(store):
    h = desk(store)
    assert await staff_says(h, RESET) == "Saved the canned reply “reset” (en, ru)."
    await h.user_says("/new I cannot sign in to my account", user="ann")
    await h.user_says("/new не могу войти в учётную запись", user="ivan", language="ru")

    await h.agent_replies("/m reset", ticket=1)
    await h.agent_replies("/m RESET", ticket=2)

    assert h.to_user("ann")[-1] == (
        "💬 Support (ticket #1):\n"
        "Hi Ann, your password is reset (ticket #1).\nSign in again. Agent1"
    )
    assert h.to_user("ivan")[-1].endswith("Ivan, пароль сброшен (обращение №2). Agent1")
    async with store.transaction() as tx:
        ticket = await tx.tickets.get(1)
    assert ticket.status == TicketStatus.OPEN  # answered, not resolved
    assert ticket.first_response_at is not None


async def test_macros_are_listed_replaced_deleted_and_audited(store):
    h = desk(store)
    assert await staff_says(h, "/macro list") == "No canned replies yet. /macro add NAME adds one."
    await staff_says(h, RESET)
    await staff_says(h, "/macro add thanks Thank you, {name}!")
    assert await staff_says(h, "/macro add thanks\nThanks a lot, {name}!") == (
        "Replaced the canned reply “thanks” (*)."
    )
    assert await staff_says(h, "/macro list") == (
        "2 canned replies:\n"
        "• reset (en, ru): Hi {name}, your password is reset (ticket #{ticket}). Sign…\n"
        "• thanks (*): Thanks a lot, {name}!"
    )
    assert await staff_says(h, "/macro del thanks") == "Deleted the canned reply “thanks”."
    assert await staff_says(h, "/macro del thanks") == (
        "There is no canned reply “thanks”. /macro list shows them."
    )
    async with store.transaction() as tx:
        actions = [a.action for a in await tx.audit.list(limit=50)]
    assert {"macro.add", "macro.edit", "macro.delete"} <= set(actions)


async def test_mistakes_and_refusals(store):
    h = desk(store)
    await h.user_says("/new I cannot sign in to my account", user="ann")
    await h.agent_replies("/m nothing", ticket=1)
    assert h.to_staff()[-1].message.text.startswith("There is no canned reply “nothing”")
    assert (await staff_says(h, "/macro add")).startswith("Usage: /macro list")
    assert (await staff_says(h, "/macro add bad/name text")).startswith("Usage: /macro list")
    assert (await staff_says(h, "/macro list", agent="stranger")) == (
        "Sorry, /macro needs the agent role."
    )
    assert len(h.to_user("ann")) == 1  # only the ticket's opening: nothing was sent


def test_texts_per_language_and_placeholders():
    assert parse_texts("Hello {name}") == {"": "Hello {name}"}
    assert parse_texts("EN: one\ntwo\nru: три") == {"en": "one\ntwo", "ru": "три"}
    assert fill("{name} #{ticket} {agent} {other} {", name="A", ticket="7", agent="B") == (
        "A #7 B {other} {"
    )
