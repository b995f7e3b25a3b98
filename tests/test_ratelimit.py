"""The limiter in front of the outbox sender paces sends to a platform's published limits."""

from __future__ import annotations

from core.delivery.ratelimit import RateLimiter
from core.ports import RateLimits


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _limiter(limits: RateLimits) -> tuple[RateLimiter, FakeTime]:
    time = FakeTime()
    return RateLimiter(limits, monotonic=time.monotonic, sleep=time.sleep), time


async def test_one_message_per_second_per_chat():
    limiter, time = _limiter(RateLimits(per_chat=1, per_chat_window=1.0, overall=30))
    for _ in range(3):
        await limiter.acquire("chat")
    assert time.now == 1002.0  # sends at 0, 1, 2 seconds


async def test_different_chats_do_not_wait_for_each_other():
    limiter, time = _limiter(RateLimits(per_chat=1, per_chat_window=1.0, overall=30))
    for chat in ("a", "b", "c"):
        await limiter.acquire(chat)
    assert time.slept == []


async def test_overall_limit_spreads_a_burst_over_seconds():
    limiter, time = _limiter(RateLimits(per_chat=1, per_chat_window=1.0, overall=30))
    for n in range(90):
        await limiter.acquire(f"chat{n}")
    assert 2.0 <= time.now - 1000.0 < 3.0  # 90 sends at 30/s take two more seconds


async def test_extra_window_for_groups():
    group = RateLimits(
        per_chat=1, per_chat_window=1.0, overall=30,
        extra_chat_limit=lambda chat: (20, 60.0) if chat.startswith("-") else None,
    )  # fmt: skip
    limiter, time = _limiter(group)
    for _ in range(21):
        await limiter.acquire("-100")
    assert time.now - 1000.0 >= 60.0  # the 21st message waits for the minute window
    private, time2 = _limiter(group)
    for _ in range(21):
        await private.acquire("42")
    assert time2.now - 1000.0 == 20.0
