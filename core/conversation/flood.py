"""A per-user rate limit that loses nothing: past `per_minute` messages a minute the user is
asked, once, to slow down; every message is still handled and kept on their ticket (and the
outbox merges the relays into a paced staff chat)."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=1)


class FloodWatch:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute  # 0: no limit
        self._recent: dict[int, deque[datetime]] = {}
        self._warned: set[int] = set()

    def should_warn(self, user_id: int, now: datetime) -> bool:
        """Count one message of the user; True the first time they pass the limit (until they
        fall back under it)."""
        if self.per_minute <= 0:
            return False
        recent = self._recent.setdefault(user_id, deque())
        recent.append(now)
        while recent and recent[0] <= now - WINDOW:
            recent.popleft()
        if len(recent) <= self.per_minute:
            self._warned.discard(user_id)
            if len(recent) == 1 and len(self._recent) > 10_000:
                self._forget_quiet(now)
            return False
        if user_id in self._warned:
            return False
        self._warned.add(user_id)
        return True

    def _forget_quiet(self, now: datetime) -> None:
        """Users silent for a minute need no history (bounds the memory)."""
        for user_id in [u for u, times in self._recent.items() if times[-1] <= now - WINDOW]:
            del self._recent[user_id]
            self._warned.discard(user_id)
