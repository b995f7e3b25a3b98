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
