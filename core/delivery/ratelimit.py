"""Paces outgoing messages to a platform's published limits, before the platform has to refuse
them: sliding windows per chat and for the whole bot."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from core.ports import RateLimits

OVERALL_WINDOW = 1.0
FORGET_AFTER = 3600.0  # a chat silent this long no longer needs its send history
PRUNE_EVERY = 1000  # sends between two clean-ups of silent chats


class RateLimiter:
    def __init__(
        self,
        limits: RateLimits,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._sleep = sleep
        # Only the last N send times matter for an "N per window" rule.
        self._all_sends: deque[float] = deque(maxlen=limits.overall)
        self._chat_sends: dict[str, deque[float]] = {}
        self._sends_since_prune = 0

    async def acquire(self, chat_id: str) -> None:
        """Wait until one more message to `chat_id` keeps every window within its limit."""
        windows = self._chat_windows(chat_id)
        chat_sends = self._chat_sends.get(chat_id)
        if chat_sends is None:
            chat_sends = deque(maxlen=max(count for count, _ in windows))
            self._chat_sends[chat_id] = chat_sends
        while True:
            now = self._monotonic()
            wait = max(
                _wait(self._all_sends, self.limits.overall, OVERALL_WINDOW, now),
                *(_wait(chat_sends, count, window, now) for count, window in windows),
            )
            if wait <= 0:
                break
            await self._sleep(wait)
        self._all_sends.append(now)
        chat_sends.append(now)
        self._sends_since_prune += 1
        if self._sends_since_prune >= PRUNE_EVERY:
            self._forget_silent_chats(now)

    def wait_time(self, chat_id: str) -> float:
        """Seconds `acquire(chat_id)` would wait right now (0 when it would not)."""
        now = self._monotonic()
        chat_sends = self._chat_sends.get(chat_id, ())
        return max(
            _wait(self._all_sends, self.limits.overall, OVERALL_WINDOW, now),
            *(
                _wait(chat_sends, count, window, now)
                for count, window in self._chat_windows(chat_id)
            ),
            0.0,
        )

    def spacing(self, chat_id: str) -> float:
        """The average seconds between two messages the limits allow into `chat_id`."""
        return max(window / count for count, window in self._chat_windows(chat_id))

    def _chat_windows(self, chat_id: str) -> list[tuple[int, float]]:
        windows = [(self.limits.per_chat, self.limits.per_chat_window)]
        if self.limits.extra_chat_limit is not None:
            extra = self.limits.extra_chat_limit(chat_id)
            if extra is not None:
                windows.append(extra)
        return windows

    def _forget_silent_chats(self, now: float) -> None:
        self._sends_since_prune = 0
        silent = [c for c, sends in self._chat_sends.items() if sends[-1] < now - FORGET_AFTER]
        for chat_id in silent:
            del self._chat_sends[chat_id]


def _wait(sends: deque[float], count: int, window: float, now: float) -> float:
    """Seconds until one more send fits `count` per `window` (sends are in time order)."""
    if len(sends) < count:
        return 0.0
    return sends[-count] + window - now
