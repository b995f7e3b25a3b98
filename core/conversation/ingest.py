"""The front door of the engine for channel adapters.

`submit()` returns once the message is committed (so an adapter acknowledges a delivery to its
platform only after that). Messages are spread over worker lanes by user: one user's messages
are handled strictly in order, one at a time (a burst never opens two tickets), while different
users proceed in parallel; in a staff chat's threads the order is kept per thread (see
`IncomingMessage.order_key`). Each lane hands everything that queued up meanwhile to the engine as
one batch: one transaction for many messages (group commit), the users taking turns in it, so
one user's flood does not hold the others up.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections import OrderedDict, deque
from dataclasses import dataclass

from core.conversation.engine import ConversationEngine
from core.messages import IncomingMessage

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    message: IncomingMessage
    done: asyncio.Future


class _FairQueue:
    """A lane's waiting messages, per user. A batch takes the users in turn, each user's
    messages in order: one user's flood (thousands queued) never delays another user's
    message by more than one turn."""

    def __init__(self) -> None:
        self._by_user: OrderedDict[tuple[str, ...], deque[_Pending]] = OrderedDict()
        self._ready = asyncio.Event()
        self._unfinished = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def put(self, pending: _Pending) -> None:
        self._by_user.setdefault(pending.message.order_key, deque()).append(pending)
        self._unfinished += 1
        self._idle.clear()
        self._ready.set()

    async def take(self, limit: int) -> list[_Pending]:
        """At least one message, at most `limit`, the users taking turns."""
        while not self._by_user:
            self._ready.clear()
            await self._ready.wait()
        batch: list[_Pending] = []
        while self._by_user and len(batch) < limit:
            for user in list(self._by_user):
                waiting = self._by_user[user]
                batch.append(waiting.popleft())
                if not waiting:
                    del self._by_user[user]
                if len(batch) == limit:
                    break
        # Each user's turn moves to the back: the next batch starts with someone else.
        for pending in batch:
            user = pending.message.order_key
            if user in self._by_user:
                self._by_user.move_to_end(user)
        return batch

    def task_done(self) -> None:
        self._unfinished -= 1
        if self._unfinished == 0:
            self._idle.set()

    async def join(self) -> None:
        await self._idle.wait()


class Ingest:
    def __init__(self, engine: ConversationEngine, lanes: int = 1, batch_size: int = 64) -> None:
        if lanes < 1 or batch_size < 1:
            raise ValueError("lanes and batch_size must be positive")
        self.engine = engine
        self.batch_size = batch_size
        self._queues = [_FairQueue() for _ in range(lanes)]
        self._workers: list[asyncio.Task] = []

    async def __aenter__(self) -> Ingest:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start(self) -> None:
        if not self._workers:
            self._workers = [asyncio.create_task(self._work(q)) for q in self._queues]

    async def stop(self) -> None:
        """Finish what was already submitted, then stop the lanes."""
        for queue in self._queues:
            await queue.join()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    async def submit(self, message: IncomingMessage) -> None:
        """Handle one message; raises if it could not be handled (do not acknowledge it then)."""
        done = asyncio.get_running_loop().create_future()
        self._lane(message).put(_Pending(message, done))
        await done

    def _lane(self, message: IncomingMessage) -> _FairQueue:
        key = "\x1f".join(message.order_key).encode()
        return self._queues[zlib.crc32(key) % len(self._queues)]

    async def _work(self, queue: _FairQueue) -> None:
        while True:
            batch = await queue.take(self.batch_size)
            try:
                errors = await self.engine.handle_batch([p.message for p in batch])
            except Exception as error:  # noqa: BLE001 - keep the lane alive, fail the batch
                log.exception("batch handling failed")
                errors = [error] * len(batch)
            for pending, error in zip(batch, errors, strict=True):
                if not pending.done.done():
                    if error is None:
                        pending.done.set_result(None)
                    else:
                        pending.done.set_exception(error)
                queue.task_done()
