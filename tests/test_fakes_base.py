"""The shared machinery of the fakes: fault targeting, waiting, and quick shutdown."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.fakes.base import Fault, FaultPlan
from tests.fakes.telegram import FakeTelegram


def test_counted_faults_target_methods_and_spare_background_polls():
    plan = FaultPlan(background=["getUpdates"])
    plan.add(Fault("rate_limit"), times=2)
    plan.add(Fault("server_error", method="getUpdates"))

    taken = [plan.take(m) for m in ("getUpdates", "sendMessage", "getUpdates", "getMe", "getMe")]

    assert [f.kind if f else None for f in taken] == [
        "server_error",  # targeted explicitly
        "rate_limit",
        None,  # an untargeted fault never hits the background poll
        "rate_limit",
        None,  # used up
    ]


def test_ratio_faults_are_deterministic_and_per_method_set():
    plan = FaultPlan()
    plan.add_ratio(Fault("rate_limit"), 0.25, methods=["sendMessage"])

    hits = [plan.take("sendMessage") is not None for _ in range(8)]
    other = [plan.take("getMe") for _ in range(4)]

    assert hits == [False, False, False, True] * 2
    assert other == [None] * 4


async def test_wait_until_fails_with_a_clear_message():
    async with FakeTelegram() as fake:
        with pytest.raises(AssertionError, match="expected 1 sendMessage call"):
            await fake.wait_for_calls("sendMessage", within=0.05)


async def test_stop_ends_a_waiting_long_poll_at_once():
    fake = FakeTelegram()
    await fake.start()
    url = f"{fake.base_url}/bot{fake.token}/getUpdates"
    async with aiohttp.ClientSession() as http:
        poll = asyncio.create_task(http.post(url, data={"timeout": "30"}))
        await fake.wait_for_calls("getUpdates")
        started = time.monotonic()
        await fake.stop()
        response = await asyncio.wait_for(poll, 2)

    assert (await response.json())["result"] == []
    assert time.monotonic() - started < 1.0


async def test_slow_fault_delays_the_answer():
    async with FakeTelegram() as fake:
        fake.slow_next(0.2, method="getMe")
        url = f"{fake.base_url}/bot{fake.token}/getMe"
        async with aiohttp.ClientSession() as http:
            started = time.monotonic()
            response = await http.post(url)
            elapsed = time.monotonic() - started

    assert response.status == 200 and elapsed >= 0.2
    assert fake.calls("getMe")[0].fault is None  # answered normally, only late
