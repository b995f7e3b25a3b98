"""Support lines, escalation and agents on duty through the engine: a ticket escalated to a line
whose staff chat is on another messenger, de-escalation, refusals, round-robin and least-loaded
assignment, SLA breaches that alert supervisors and escalate."""

from __future__ import annotations

import itertools
from datetime import timedelta

from channels.memory import RecordingAdapter
from core.delivery.outbox import OutboxConfig, OutboxSender
from core.domain import Priority, Ticket
from core.messages import ConversationRef, IncomingMessage, Sender
from core.tickets.lines import SupportLine
from core.tickets.policy import AutoAssign, TicketPolicy
from core.tickets.sla_policy import SlaPolicy, SlaTarget
from tests.harness import CHANNEL, STAFF_CHAT, Harness

OTHER = "other"  # a second messenger
L2_CHAT = ConversationRef(OTHER, "l2-chat")
L3_CHAT = ConversationRef(CHANNEL, "l3-chat")
LINES = (SupportLine("L2", L2_CHAT), SupportLine("L3", L3_CHAT))
_ids = itertools.count(1)
REFUSED_DUTY = "Sorry, /duty needs the agent role."


def helpdesk(store, **options) -> tuple[Harness, RecordingAdapter]:
    options.setdefault("more_lines", LINES)
    bot = Harness(store, **options)
    other = RecordingAdapter(OTHER)
    bot.sender = OutboxSender(
        store,
        {CHANNEL: bot.adapter, OTHER: other},
        OutboxConfig(backoff_base=1, backoff_max=60),
        bot.clock,
    )
    return bot, other


def in_chat(
    chat: ConversationRef, text: str, agent: str, thread: str | None = None
) -> IncomingMessage:
    number = next(_ids)
    return IncomingMessage(
        update_id=f"line-{number}",
        conversation=ConversationRef(chat.channel, chat.chat_id, thread),
        sender=Sender(agent, agent.capitalize(), "en"),
        text=text,
        message_id=f"m{number}",
        is_private=False,
    )


def thread_in(adapter: RecordingAdapter, chat: ConversationRef, ticket: int) -> str:
    for delivery in adapter.to_chat(chat.chat_id):
        message = delivery.message
        if message.ticket_id == ticket and message.conversation.thread_id is None:
            return delivery.message_id
    raise AssertionError(f"ticket #{ticket} never reached {chat}")


async def get_ticket(store, number: int = 1) -> Ticket:
    async with store.transaction() as tx:
        found = await tx.tickets.get(number)
    assert found is not None
    return found


async def test_escalation_to_a_line_on_another_messenger_and_back(store):
    bot, other = helpdesk(store)
    await bot.user_says("/new the printer prints only blank pages")
    await bot.agent_replies("Did you check the toner?", ticket=1)
    await bot.user_says("yes, the toner is new")
    await bot.agent_replies("/take", ticket=1)
    to_user_before = len(bot.to_user())

    await bot.agent_replies("/escalate hardware fault, needs a technician", ticket=1)

    moved = await get_ticket(store)
    assert moved.line == "L2" and moved.assignee_id is None
    # The first line's thread says where the ticket went.
    left = bot.to_staff()[-1].message
    assert left.conversation.thread_id == bot.thread_of(1)
    assert left.text == (
        "⬆️ Ticket #1 escalated to L2 by Agent1. Reason: hardware fault, needs a technician"
    )
    # The second line (on another messenger) gets it with its history, in a thread of its own.
    (arrival,) = [d.message for d in other.to_chat(L2_CHAT.chat_id)]
    assert arrival.thread_title and arrival.thread_title.startswith("#1 ")
    assert "escalated from L1 by Agent1" in arrival.text
    assert "hardware fault, needs a technician" in arrival.text
    history = arrival.text.split("History:\n", 1)[1].splitlines()
    assert history == [
        "👤 the printer prints only blank pages",
        "🎧 Did you check the toner?",
        "👤 yes, the toner is new",
    ]
    # The user's conversation is untouched.
    assert len(bot.to_user()) == to_user_before

    # The second line answers in its thread; the user's next message goes there only.
    l2_thread = thread_in(other, L2_CHAT, 1)
    await bot.deliver(in_chat(L2_CHAT, "A technician comes at 3 pm.", "tech", l2_thread))
    assert bot.to_user()[-1].endswith("A technician comes at 3 pm.")
    staff_before = len(bot.to_staff())
    await bot.user_says("thank you, I will be there")
    assert len(bot.to_staff()) == staff_before
    assert other.to_chat(L2_CHAT.chat_id)[-1].message.text.endswith("thank you, I will be there")

    # Back down: the first line's existing thread continues.
    await bot.deliver(in_chat(L2_CHAT, "/deescalate only a cable was loose", "tech", l2_thread))
    back = await get_ticket(store)
    assert back.line == "L1"
    returned = bot.to_staff()[-1].message
    assert returned.conversation.thread_id == bot.thread_of(1)
    assert "sent back from L2 by Tech" in returned.text
    assert "only a cable was loose" in returned.text
    async with store.transaction() as tx:
        moves = [
            (a.before, a.after) for a in await tx.audit.list("ticket") if a.action == "ticket.line"
        ]
    assert sorted(moves, key=str) == [
        ({"line": "L2"}, {"line": "L1"}),
        ({"line": None}, {"line": "L2"}),
    ]


async def test_escalation_to_a_named_line_and_the_limits(store):
    bot, other = helpdesk(store)
    await bot.user_says("/new the server room is flooding")
    await bot.agent_replies("/deescalate", ticket=1)
    assert bot.to_staff()[-1].message.text == (
        "Ticket #1 is in L1: there is no line below it to send it back to."
    )
    await bot.agent_replies("/escalate L3 water everywhere", ticket=1)
    assert (await get_ticket(store)).line == "L3"
    arrival = bot.adapter.to_chat(L3_CHAT.chat_id)[0].message
    assert "escalated from L1" in arrival.text and "water everywhere" in arrival.text
    assert other.to_chat(L2_CHAT.chat_id) == []  # L2 was skipped

    l3_thread = thread_in(bot.adapter, L3_CHAT, 1)
    await bot.deliver(in_chat(L3_CHAT, "/escalate", "chief", l3_thread))
    assert bot.adapter.to_chat(L3_CHAT.chat_id)[-1].message.text == (
        "Ticket #1 is in L3: there is no line above it to escalate to."
    )
    await bot.deliver(in_chat(L3_CHAT, "/escalate L2", "chief", l3_thread))  # L2 is below
    assert (await get_ticket(store)).line == "L3"
    # Outside a thread the number comes first.
    await bot.deliver(in_chat(L3_CHAT, "/deescalate 1 L2 drying now", "chief"))
    assert (await get_ticket(store)).line == "L2"


async def test_closed_tickets_are_not_escalated(store):
    bot, other = helpdesk(store)
    await bot.user_says("/new account locked")
    await bot.agent_replies("/close", ticket=1)
    await bot.agent_replies("/escalate", ticket=1)
    assert (await get_ticket(store)).line is None
    assert "already closed" in bot.to_staff()[-1].message.text


async def test_escalation_needs_the_agent_role_when_required(store):
    bot, other = helpdesk(
        store,
        tickets=TicketPolicy(require_agent_role=True),
        bootstrap_roles={(CHANNEL, "boss"): frozenset({"admin"})},
    )
    await bot.user_says("/new help")
    await bot.agent_replies("/escalate", ticket=1, agent="stranger")
    assert (await get_ticket(store)).line is None
    await bot.deliver(bot.staff_message("/duty on", agent="stranger"))
    assert bot.to_staff()[-1].message.text == REFUSED_DUTY
    async with store.transaction() as tx:
        refused = [
            a.object_id for a in await tx.audit.list("command") if a.action == "command.refused"
        ]
    assert sorted(refused) == ["duty", "escalate"]
    await bot.agent_replies("/escalate", ticket=1, agent="boss")
    assert (await get_ticket(store)).line == "L2"


async def test_duty_on_off_and_listing(store):
    bot, other = helpdesk(store)
    await bot.deliver(bot.staff_message("/duty"))
    assert bot.to_staff()[-1].message.text == "Nobody is on duty in L1."
    await bot.deliver(bot.staff_message("/duty on", agent="ann"))
    assert bot.to_staff()[-2].message.text == "🟢 Ann is on duty in L1."
    # Auto-assignment is off in this configuration: the agent is told.
    assert "Automatic assignment is off" in bot.to_staff()[-1].message.text
    await bot.deliver(bot.staff_message("/duty on", agent="bob"))
    await bot.deliver(bot.staff_message("/duty on", agent="bob"))
    assert bot.to_staff()[-1].message.text == "Bob, you are already on duty in L1."
    await bot.deliver(in_chat(L2_CHAT, "/duty on", "tech"))
    await bot.deliver(bot.staff_message("/duty"))
    assert bot.to_staff()[-1].message.text == "On duty in L1: Ann, Bob."
    await bot.deliver(bot.staff_message("/duty off", agent="ann"))
    assert bot.to_staff()[-1].message.text == "⚪ Ann is off duty in L1."
    await bot.deliver(bot.staff_message("/duty maybe", agent="ann"))
    assert bot.to_staff()[-1].message.text.startswith("Usage: /duty on")
    await bot.deliver(bot.staff_message("/duty"))
    assert bot.to_staff()[-1].message.text == "On duty in L1: Bob."
    await bot.user_says("/new no ticket is assigned while auto-assignment is off")
    assert (await get_ticket(store)).assignee_id is None


async def test_round_robin_assigns_new_tickets_in_turn(store):
    bot, other = helpdesk(store, auto_assign=AutoAssign.ROUND_ROBIN)
    for agent in ("ann", "bob"):
        await bot.deliver(bot.staff_message("/duty on", agent=agent))
    for n in range(1, 4):
        await bot.user_says(f"/new problem {n}", user=f"u{n}")
    assignees = []
    async with store.transaction() as tx:
        for n in range(1, 4):
            ticket = await tx.tickets.get(n)
            assignees.append((await tx.users.get(ticket.assignee_id)).external_id)
            assert ticket.status.value == "open"
    assert assignees == ["ann", "bob", "ann"]
    assert bot.to_user("u2")[-1] == "Bob from our support team has taken your ticket #2."
    thread = [d.message.text for d in bot.to_staff() if d.message.ticket_id == 2]
    assert thread[-1].startswith("👤 Assigned to Bob (on duty in L1).")

    # Nobody on duty: the ticket waits for /take.
    for agent in ("ann", "bob"):
        await bot.deliver(bot.staff_message("/duty off", agent=agent))
    await bot.user_says("/new problem 4", user="u4")
    assert (await get_ticket(store, 4)).assignee_id is None


async def test_least_loaded_prefers_the_agent_with_fewer_active_tickets(store):
    bot, other = helpdesk(store, auto_assign=AutoAssign.LEAST_LOADED)
    await bot.deliver(bot.staff_message("/duty on", agent="ann"))
    await bot.user_says("/new first", user="u1")
    await bot.user_says("/new second", user="u2")  # ann has 1 and is alone: ann again
    await bot.deliver(bot.staff_message("/duty on", agent="bob"))
    await bot.user_says("/new third", user="u3")  # bob has none
    await bot.user_says("/new fourth", user="u4")  # ann 2, bob 1: bob
    await bot.agent_replies("/close", ticket=1, agent="ann")
    await bot.agent_replies("/close", ticket=2, agent="ann")
    await bot.user_says("/new fifth", user="u5")  # ann 0, bob 2: ann
    async with store.transaction() as tx:
        names = [
            (await tx.users.get((await tx.tickets.get(n)).assignee_id)).external_id
            for n in range(1, 6)
        ]
    assert names == ["ann", "ann", "bob", "bob", "ann"]


async def test_an_escalated_ticket_goes_to_the_agent_on_duty_in_the_new_line(store):
    bot, other = helpdesk(store, auto_assign=AutoAssign.ROUND_ROBIN)
    await bot.deliver(in_chat(L2_CHAT, "/duty on", "tech"))
    await bot.user_says("/new the disk makes noises")
    assert (await get_ticket(store)).assignee_id is None  # nobody on duty in L1
    await bot.agent_replies("/escalate", ticket=1)
    moved = await get_ticket(store)
    async with store.transaction() as tx:
        assert (await tx.users.get(moved.assignee_id)).external_id == "tech"
    assert other.to_chat(L2_CHAT.chat_id)[-1].message.text.startswith(
        "👤 Assigned to Tech (on duty in L2)."
    )
    assert bot.to_user()[-1] == "Tech from our support team has taken your ticket #1."


async def test_a_breach_alerts_supervisors_privately_and_escalates(store):
    policy = SlaPolicy(
        {Priority.NORMAL: SlaTarget(timedelta(hours=1), timedelta(hours=8))}, warn_at=0.5
    )
    bot, other = helpdesk(
        store,
        sla=policy,
        escalate_on_breach=True,
        bootstrap_roles={
            (CHANNEL, "sue"): frozenset({"supervisor"}),
            (CHANNEL, "max"): frozenset({"supervisor"}),  # never wrote to the bot
            (CHANNEL, "ann"): frozenset({"agent"}),
        },
    )
    await bot.user_says("/start", user="sue")  # the bot now knows sue's private chat
    await bot.user_says("/start", user="ann")
    await bot.user_says("/new the VPN is down")
    assert bot.jobs.sla is not None

    bot.clock.advance(minutes=30)
    await bot.jobs.sla.check()
    await bot.flush()
    assert not any("SLA" in text for text in bot.to_user("sue"))  # warnings stay in the chat
    assert (await get_ticket(store)).line is None

    bot.clock.advance(minutes=30)
    await bot.jobs.sla.check()
    await bot.flush()
    assert bot.to_user("sue")[-1].startswith("🚨 SLA breached: ticket #1 (normal)")
    assert not any("SLA" in text for text in bot.to_user("ann"))  # an agent, not a supervisor
    moved = await get_ticket(store)
    assert moved.line == "L2"
    arrival = other.to_chat(L2_CHAT.chat_id)[0].message
    assert "escalated from L1 by the SLA monitor" in arrival.text
    assert "SLA breached" in arrival.text

    # The resolution breach later escalates once more (to L3), never twice in one check.
    bot.clock.advance(hours=8)
    await bot.jobs.sla.check()
    await bot.flush()
    assert (await get_ticket(store)).line == "L3"
    assert len(bot.adapter.to_chat(L3_CHAT.chat_id)) >= 1
    assert sum(t.startswith("🚨") for t in bot.to_user("sue")) == 2


async def test_a_staff_chat_of_any_line_is_not_a_user_conversation(store):
    bot, other = helpdesk(store)
    await bot.deliver(in_chat(L2_CHAT, "hello everyone, coffee?", "tech"))
    async with store.transaction() as tx:
        assert await tx.tickets.find_active(1) is None
        user = await tx.users.find(OTHER, "tech")
    assert user is not None and user.chat is None  # staff, not a user conversation
    assert other.to_chat(L2_CHAT.chat_id) == []
    assert STAFF_CHAT not in {d.message.conversation.chat_id for d in other.deliveries}


async def test_an_agent_acts_only_on_tickets_of_their_lines_chat(store):
    """Regression: after an escalation an L1 agent could still answer from the old thread, and
    '/close 1' typed in any line's chat acted on any ticket."""
    bot, other = helpdesk(store, bootstrap_roles={(OTHER, "sue"): frozenset({"supervisor"})})
    await bot.user_says("/new the printer prints only blank pages")
    await bot.agent_replies("/escalate needs a technician", ticket=1)
    to_user = len(bot.to_user())

    await bot.agent_replies("Try turning it off and on", ticket=1)  # from L1's old thread
    assert len(bot.to_user()) == to_user
    assert bot.to_staff()[-1].message.text.startswith("Ticket #1 is with line L2 now")
    await bot.deliver(bot.staff_message("/close 1 done"))  # L1's chat, outside a thread
    assert (await get_ticket(store)).status.is_active

    await bot.user_says("/new the badge reader at the door is dead", user="u2")
    await bot.deliver(in_chat(L2_CHAT, "/priority 2 urgent", "olga"))  # L2 chat, an L1 ticket
    assert (await get_ticket(store, 2)).priority == Priority.NORMAL
    assert other.texts_to(L2_CHAT.chat_id)[-1].startswith("Ticket #2 is with line L1 now")

    await bot.deliver(in_chat(L2_CHAT, "/priority 2 urgent", "sue"))  # supervisors: anywhere
    assert (await get_ticket(store, 2)).priority == Priority.URGENT
    await bot.deliver(in_chat(L2_CHAT, "/close 1 fixed it", "olga"))  # its own line: fine
    assert not (await get_ticket(store)).status.is_active
