"""Ingest lanes: each user's messages in order, users taking turns in a batch, and one user's
flood never holding the others up."""

from __future__ import annotations

import asyncio

from core.conversation.ingest import Ingest
from tests.harness import Harness


async def test_one_users_flood_does_not_hold_up_another_user(store):
    """Regression: 10,000 messages from one user delayed another user's handling by 30-90 s:
    the lane handed out its queue in arrival order, the flood first."""
    bot = Harness(store)
    order: list[str] = []
    handle_batch = bot.engine.handle_batch

    async def recording(messages):
        order.extend(m.sender.external_id for m in messages)
        return await handle_batch(messages)

    bot.engine.handle_batch = recording  # type: ignore[method-assign]
    async with Ingest(bot.engine, lanes=1, batch_size=16) as ingest:
        flood = [
            asyncio.create_task(ingest.submit(bot.user_message(f"spam {n}", "flooder")))
            for n in range(200)
        ]
        await asyncio.sleep(0)  # the flood is queued first
        await ingest.submit(bot.user_message("/new my laptop does not boot", "quiet"))
        assert order.index("quiet") < 32  # its turn came in the first two batches
        await asyncio.gather(*flood)
    texts = [m for m in order if m == "flooder"]
    assert len(texts) == 200
    async with store.transaction() as tx:
        user = await tx.users.find("memory", "flooder")
        [ticket] = await tx.tickets.list_for_user(user.id)
        kept = [m.text for m in await tx.messages.list(ticket.id)]
    assert kept == [f"spam {n}" for n in range(200)]  # every message kept, in order


async def test_an_agents_answers_in_two_tickets_threads_go_side_by_side_each_in_order(store):
    """In a staff chat's threads the order is kept per thread, not per agent: one agent
    answering many tickets is not one queue (each thread is a lane key of its own)."""
    bot = Harness(store)
    for user in ("ann", "bob"):
        await bot.user_says(f"/new {user}'s printer is broken", user=user)
    one, two = bot.thread_of(1), bot.thread_of(2)
    keys = {
        bot.staff_message("a", thread=one).order_key,
        bot.staff_message("b", thread=two).order_key,
    }
    assert len(keys) == 2
    outside = bot.staff_message("/queue").order_key
    assert outside == bot.staff_message("/mine").order_key == ("memory", "agent1")
    async with Ingest(bot.engine, lanes=2, batch_size=1) as ingest:
        await asyncio.gather(
            *(
                ingest.submit(bot.staff_message(f"answer {n} to {who}", thread=thread))
                for n in range(5)
                for who, thread in (("ann", one), ("bob", two))
            )
        )
    await bot.flush()
    assert [t for t in bot.to_user("ann") if t.startswith("💬")] == [
        f"💬 Support (ticket #1):\nanswer {n} to ann" for n in range(5)
    ]
    assert len([t for t in bot.to_user("bob") if t.startswith("💬")]) == 5
