"""Abuse control as a conversation, on every storage backend: /ban in a ticket's thread or by
user reference, a shadow ban, /unban, /bans; a banned user gets one notice and nothing else;
bans end by themselves and survive a restart."""

from __future__ import annotations

from core.domain import Direction
from core.tickets.policy import TicketPolicy
from tests.harness import ADMIN, AGENT, CHANNEL, FakeClock, Harness

ROLES = {(CHANNEL, ADMIN): frozenset({"admin"}), (CHANNEL, AGENT): frozenset({"agent"})}


def desk(store, clock: FakeClock | None = None) -> Harness:
    policy = TicketPolicy(require_agent_role=True)
    return Harness(store, clock, bootstrap_roles=ROLES, tickets=policy)


async def opened_ticket(h: Harness, user: str = "u1") -> None:
    await h.user_says("/new my printer is on fire and I want a new one now", user=user)


def staff_texts(h: Harness) -> list[str]:
    return [d.message.text for d in h.to_staff()]


async def test_a_banned_user_gets_one_notice_and_nothing_reaches_the_staff_chat(store):
    h = desk(store)
    await opened_ticket(h)
    await h.agent_replies("/ban 7d insults agents", ticket=1)
    assert "🚫 U1 (memory:u1) is banned until" in staff_texts(h)[-1]
    assert "insults agents" in staff_texts(h)[-1]
    seen_by_staff = len(h.to_staff())

    await h.user_says("you are all useless")
    assert h.to_user()[-1].startswith("Sorry, support is not available to you until")
    notices = len(h.to_user())
    await h.user_says("hello??")
    await h.user_says("/new again")
    await h.user_says("/status")
    assert len(h.to_user()) == notices  # one notice, then nothing
    assert len(h.to_staff()) == seen_by_staff  # and no noise for the staff

    h.clock.advance(days=7)  # the ban ends by itself
    await h.user_says("/status")
    assert "#1" in h.to_user()[-1]


async def test_a_shadow_ban_keeps_the_messages_quietly(store):
    h = desk(store)
    await opened_ticket(h)
    await h.agent_replies("/ban shadow flooding", ticket=1)
    assert "👻 U1 (memory:u1) is shadow-banned until lifted" in staff_texts(h)[-1]
    before_user, before_staff = len(h.to_user()), len(h.to_staff())

    await h.user_says("spam spam spam")
    assert len(h.to_user()) == before_user  # nothing tells them
    assert len(h.to_staff()) == before_staff  # nothing disturbs the staff
    async with store.transaction() as tx:
        kept = [m.text for m in await tx.messages.list(1) if m.direction == Direction.FROM_USER]
    assert kept[-1] == "spam spam spam"  # yet nothing they wrote is lost


async def test_ban_by_reference_unban_and_the_list_survive_a_restart(store):
    h = desk(store)
    await h.user_says("hello", user="u2")
    await h.deliver(h.staff_message("/ban memory:u2 12h spam links"))
    await h.deliver(h.staff_message("/bans"))
    listing = staff_texts(h)[-1]
    assert listing.startswith("1 banned user:")
    assert "U2 (memory:u2) · ban · until" in listing and "spam links" in listing

    restarted = desk(store, h.clock)  # a new process on the same database
    await restarted.user_says("let me in", user="u2", update_id="after-restart")
    assert restarted.to_user("u2") == [
        "Sorry, support is not available to you until Mar 2, 2026, 9:00\u202fPM. "
        "Messages sent here before then will not be read."
    ]

    await h.deliver(h.staff_message("/unban memory:u2"))
    assert staff_texts(h)[-1] == "✅ U2 may write to support again (ban lifted by Agent1)."
    await h.deliver(h.staff_message("/bans"))
    assert staff_texts(h)[-1] == "Nobody is banned."
    await h.user_says("/status", user="u2")
    assert "Sorry" not in h.to_user("u2")[-1]


async def test_staff_cannot_be_banned_users_cannot_ban_and_refusals_are_clear(store):
    h = desk(store)
    await opened_ticket(h)
    await h.deliver(h.staff_message(f"/ban memory:{AGENT}"))
    assert staff_texts(h)[-1] == "Agent1 is a staff member and cannot be banned."
    await h.deliver(h.staff_message("/ban"))
    assert staff_texts(h)[-1].startswith("Usage: in a ticket's thread /ban")
    await h.deliver(h.staff_message("/unban memory:nobody"))
    assert staff_texts(h)[-1].startswith("Usage: /unban")
    await h.deliver(h.staff_message("/ban 1", agent="stranger"))  # no agent role
    assert staff_texts(h)[-1] == "Sorry, /ban needs the agent role."
    await h.user_says("/ban memory:u1")  # in a private chat: not a command users have
    assert h.to_user()[-1].startswith("I do not know the command /ban.")
    await h.agent_replies("/unban", ticket=1)
    assert staff_texts(h)[-1] == "U1 is not banned."
    async with store.transaction() as tx:
        audited = [a.action for a in await tx.audit.list(limit=100)]
    assert "command.refused" in audited and "user.ban" not in audited
