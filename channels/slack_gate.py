"""Admission of platform deliveries: counts what is being handled so that `stop()` can let it
finish (and be acknowledged) before the connection closes, and turns away what arrives later."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class DeliveryGate:
    def __init__(self) -> None:
        self._open = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> None:
        self._open = True

    def close(self) -> None:
        """Admit nothing new; what is in flight carries on."""
        self._open = False

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[bool]:
        """Yields whether the delivery may be handled (False once closed: leave it
        unacknowledged, the platform delivers it again)."""
        if not self._open:
            yield False
            return
        self._in_flight += 1
        self._idle.clear()
        try:
            yield True
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def drained(self, within: float) -> bool:
        """Wait until nothing is in flight; False if that took longer than `within` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            return False
        return True
