"""Every command of the operator's toolkit needs its role: a stranger in the staff chat (with
`require_agent_role`) and a user in a private chat are refused, the refusal audited, and nothing
happens; an agent is refused the admins' commands."""

from __future__ import annotations

import pytest

from core.tickets.policy import TicketPolicy
from tests.harness import ADMIN, AGENT, CHANNEL, Harness

ROLES = {(CHANNEL, ADMIN): frozenset({"admin"}), (CHANNEL, AGENT): frozenset({"agent"})}
AGENT_COMMANDS = [
    "/queue", "/mine", "/unassigned", "/breaching", "/find printer", "/history memory:u1",
    "/show 1", "/ban memory:u1", "/unban memory:u1", "/bans", "/macro list", "/m 1 hello",
    "/write memory:u1 hello", "/incident open VPN is down", "/incident",
]  # fmt: skip
ADMIN_COMMANDS = ["/announce hello", "/announce_status 1", "/announce_send 1", "/webhooks"]


def desk(store) -> Harness:
    return Harness(store, bootstrap_roles=ROLES, tickets=TicketPolicy(require_agent_role=True))


@pytest.mark.parametrize("command", AGENT_COMMANDS + ADMIN_COMMANDS)
async def test_a_stranger_in_the_staff_chat_is_refused(store, command):
    h = desk(store)
    await h.user_says("/new the printer is on fire")
    await h.deliver(h.staff_message(command, agent="stranger"))
    name = command.split()[0]
    role = "admin" if command in ADMIN_COMMANDS else "agent"
    assert h.to_staff()[-1].message.text == f"Sorry, {name} needs the {role} role."
    async with store.transaction() as tx:
        audited = [a.action for a in await tx.audit.list(limit=50)]
        assert "command.refused" in audited
        assert await tx.users.banned(h.clock()) == [] and await tx.incidents.open() == []


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
async def test_an_agent_is_refused_the_admins_commands(store, command):
    h = desk(store)
    await h.deliver(h.staff_message(command))
    name = command.split()[0]
    assert h.to_staff()[-1].message.text == f"Sorry, {name} needs the admin role."
