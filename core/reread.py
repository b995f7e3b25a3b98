"""Rarely changed state that every message asks about (the granted roles, the open incidents),
kept in memory and read from storage again at most every `seconds`: a change made in another
process counts here that much later, one made here at once (`forget`, after its commit)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Reread(Generic[T]):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._value: T | None = None
        self._read_at = 0.0
        self._known = False

    async def get(self, now: float, read: Callable[[], Awaitable[T]]) -> T:
        """The kept value, or `read()`'s when it is `seconds` old (`now`: a monotonic clock)."""
        if not self._known or now - self._read_at >= self.seconds:
            self._value, self._read_at, self._known = await read(), now, True
        return self._value  # type: ignore[return-value]

    def forget(self) -> None:
        """Read again next time (it changed)."""
        self._known = False
