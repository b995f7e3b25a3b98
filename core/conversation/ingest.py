"""The front door of the engine for channel adapters.

`submit()` returns once the message is committed (so an adapter acknowledges a delivery to its
platform only after that). Messages are spread over worker lanes by user: one user's messages
are handled strictly in order, one at a time (a burst never opens two tickets), while different
users proceed in parallel. Each lane hands everything that queued up meanwhile to the engine as
one batch: one transaction for many messages (group commit).
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from dataclasses import dataclass

from core.conversation.engine import ConversationEngine
from core.messages import IncomingMessage

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    message: IncomingMessage
    done: asyncio.Future


class Ingest:
    def __init__(self, engine: ConversationEngine, lanes: int = 1, batch_size: int = 64) -> None:
        if lanes < 1 or batch_size < 1:
            raise ValueError("lanes and batch_size must be positive")
        self.engine = engine
        self.batch_size = batch_size
        self._queues: list[asyncio.Queue[_Pending]] = [asyncio.Queue() for _ in range(lanes)]
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
        self._lane(message).put_nowait(_Pending(message, done))
        await done

    def _lane(self, message: IncomingMessage) -> asyncio.Queue[_Pending]:
        key = "\x1f".join(message.user_key).encode()
        return self._queues[zlib.crc32(key) % len(self._queues)]

    async def _work(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self.batch_size and not queue.empty():
                batch.append(queue.get_nowait())
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
