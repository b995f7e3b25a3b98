"""SLA targets per category: a category's target overrides its priority's, a /category change
reschedules, other categories and priorities fall back; and the config builds them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app import sla_policy
from bot.config import load_settings
from core.domain import Priority, Ticket
from core.tickets.policy import KeywordRule, TicketPolicy
from core.tickets.sla_policy import SlaPolicy, SlaTarget
from tests.harness import FakeClock, Harness

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = SlaPolicy(
    {Priority.NORMAL: SlaTarget(timedelta(hours=4), timedelta(hours=24))},
    category_targets={
        "Billing": {Priority.NORMAL: SlaTarget(timedelta(minutes=30), timedelta(hours=4))}
    },
)
BILLING = TicketPolicy(category_rules=(KeywordRule(("invoice",), "billing"),))


async def ticket(store, number: int = 1) -> Ticket:
    async with store.transaction() as tx:
        return await tx.tickets.get(number)


def test_category_targets_override_and_fall_back():
    assert POLICY.target_for(Priority.NORMAL, "billing").first_response == timedelta(minutes=30)
    assert POLICY.target_for(Priority.NORMAL, "BILLING").resolution == timedelta(hours=4)
    assert POLICY.target_for(Priority.NORMAL, "hardware").first_response == timedelta(hours=4)
    assert POLICY.target_for(Priority.NORMAL, None).first_response == timedelta(hours=4)
    assert POLICY.target_for(Priority.URGENT, "billing") is None  # neither has one


async def test_a_ticket_of_the_category_gets_its_target_and_a_change_reschedules(store):
    bot = Harness(store, FakeClock(START), sla=POLICY, tickets=BILLING)
    await bot.user_says("/new the invoice for March is wrong", user="u1")
    await bot.user_says("/new my mouse is broken", user="u2")
    billing, other = await ticket(store, 1), await ticket(store, 2)
    assert billing.category == "billing"
    assert billing.sla.response_due_at == START + timedelta(minutes=30)
    assert billing.sla.resolution_due_at == START + timedelta(hours=4)
    assert other.sla.response_due_at == START + timedelta(hours=4)

    bot.clock.advance(minutes=10)
    await bot.agent_replies("/category Billing", ticket=2)
    moved = await ticket(store, 2)
    assert moved.sla.response_due_at == START + timedelta(minutes=30)  # from creation
    await bot.agent_replies("/category -", ticket=1)
    assert (await ticket(store, 1)).sla.response_due_at == START + timedelta(hours=4)

    bot.clock.now = START + timedelta(minutes=31)
    events = await bot.jobs.sla.check()
    assert [(event.value, number) for event, number in events] == [("response_breach", 2)]


def test_the_config_builds_category_targets(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///x.sqlite3"\n[sla]\nenabled = true\n'
        '[sla.category_targets.billing.urgent]\nfirst_response = "15m"\nresolution = "2h"\n',
        encoding="utf-8",
    )
    policy = sla_policy(load_settings(path, env={}))
    assert policy.target_for(Priority.URGENT, "Billing") == SlaTarget(
        timedelta(minutes=15), timedelta(hours=2)
    )
    assert policy.target_for(Priority.HIGH, "billing") == SlaTarget(
        timedelta(hours=1), timedelta(hours=8)
    )
