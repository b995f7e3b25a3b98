"""Plumbing shared by the fake platform servers: lifecycle on an ephemeral 127.0.0.1 port, a log
of every request, waiting for state changes without sleeping, and a queue of injected faults."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Self

from aiohttp import web

logger = logging.getLogger(__name__)


@dataclass
class UploadedFile:
    """One file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str
    content: bytes


@dataclass
class RecordedRequest:
    """One request as the fake received it. `params` merges the query string and the body
    (form fields are strings, JSON bodies keep their types); `status` is what the fake answered."""

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    status: int = 200
    fault: str | None = None
    at: float = field(default_factory=time.monotonic)

    def json_param(self, name: str) -> Any:
        """A parameter that platforms pass as a JSON string in form bodies (reply_markup,
        keyboard, blocks...), decoded; None when absent."""
        value = self.params.get(name)
        if isinstance(value, str | bytes):
            return json.loads(value)
        return value


@dataclass(frozen=True)
class Fault:
    """What to do to a request instead of (or before) answering it normally.

    kind: "rate_limit", "server_error", "delay" or "api_error" (platform error payload, VK).
    method: only requests of this API method; None means any method except the fake's
    background ones (long polls), so a fault meant for a send is not eaten by a poll."""

    kind: str
    method: str | None = None
    retry_after: int = 1
    status: int = 500
    delay: float = 0.0
    code: int = 0

    def matches(self, method: str, background: frozenset[str]) -> bool:
        if self.method is None:
            return method not in background
        return self.method == method


@dataclass
class _RatioRule:
    fault: Fault
    methods: frozenset[str] | None
    ratio: Fraction
    seen: int = 0

    def hit(self, method: str) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        before = self.seen * self.ratio
        self.seen += 1
        # Deterministic spreading: with ratio 1/3 exactly every third matching call fails.
        return int(self.seen * self.ratio) > int(before)


class FaultPlan:
    """Faults waiting for requests: counted one-shot faults first, then ratio rules."""

    def __init__(self, background: Iterable[str] = ()) -> None:
        self._background = frozenset(background)
        self._counted: list[list[Any]] = []  # [fault, remaining]
        self._ratios: list[_RatioRule] = []

    def add(self, fault: Fault, times: int = 1) -> None:
        self._counted.append([fault, times])

    def add_ratio(self, fault: Fault, ratio: float, methods: Iterable[str] | None) -> None:
        rule_methods = frozenset(methods) if methods is not None else None
        fraction = Fraction(ratio).limit_denominator(1000)
        self._ratios.append(_RatioRule(fault, rule_methods, fraction))

    def clear(self) -> None:
        self._counted.clear()
        self._ratios.clear()

    def take(self, method: str) -> Fault | None:
        for entry in self._counted:
            fault, remaining = entry
            if remaining > 0 and fault.matches(method, self._background):
                entry[1] -= 1
                return fault
        for rule in self._ratios:
            if rule.hit(method):
                return replace(rule.fault, method=method)
        return None


class FakeServer:
    """Base of the fakes: an aiohttp app on 127.0.0.1 with an ephemeral port.

    Use as `async with FakeX() as fake: ...`; `fake.base_url` is valid inside the block.
    Subclasses add routes in `_add_routes` and call `_record` for every request they get."""

    #: request methods that polling clients call constantly; untargeted faults skip them
    background_methods: frozenset[str] = frozenset()
    #: how long stop() waits for in-flight handlers before cancelling them
    shutdown_timeout = 0.5

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        #: exceptions raised by the fake's own handlers (bugs in the fake or unexpected input);
        #: the client saw a plain 500 for each
        self.internal_errors: list[BaseException] = []
        self.faults = FaultPlan(self.background_methods)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()

    # -- lifecycle

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the fake server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._keep_errors])
        self._add_routes(app)
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=self.shutdown_timeout, handle_signals=False
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        logger.debug("%s listening on %s", type(self).__name__, self.base_url)

    async def stop(self) -> None:
        self._closing.set()  # wakes long polls and delays so shutdown is quick
        self._notify()
        await self._before_stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @web.middleware
    async def _keep_errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as error:
            logger.exception("%s failed on %s", type(self).__name__, request.path)
            self.internal_errors.append(error)
            raise

    async def _before_stop(self) -> None:
        """Hook for closing long-lived connections (websockets)."""

    # -- request log

    def calls(self, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, optionally only those of one API method (faulted ones included)."""
        return [r for r in self.requests if method is None or r.method == method]

    def ok_calls(self, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests that were answered without an injected fault."""
        return [r for r in self.calls(method) if r.fault is None]

    async def wait_until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait until `predicate()` holds; re-checked after every state change of the fake.
        Fails the test (AssertionError) after `within` seconds."""
        deadline = asyncio.get_running_loop().time() + within
        while not predicate():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"{type(self).__name__}: condition not met in {within}s")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                continue

    async def wait_for_calls(
        self, method: str, count: int = 1, within: float = 5.0
    ) -> list[RecordedRequest]:
        """Wait until at least `count` requests of `method` were recorded; returns them all."""
        try:
            await self.wait_until(lambda: len(self.calls(method)) >= count, within)
        except AssertionError:
            seen = [r.method for r in self.requests]
            raise AssertionError(
                f"expected {count} {method} call(s) within {within}s; requests so far: {seen}"
            ) from None
        return self.calls(method)

    def _notify(self) -> None:
        """Wake every waiter; each waits on the event current when it started waiting."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _record(self, method: str, request: web.Request) -> RecordedRequest:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        body = b""
        if request.content_type == "application/json":
            body = await request.read()
            parsed = json.loads(body) if body else {}
            if isinstance(parsed, dict):
                params.update(parsed)
        elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    content = value.file.read()
                    files[key] = UploadedFile(key, value.filename, value.content_type, content)
                else:
                    params[key] = value
        elif request.can_read_body:
            body = await request.read()
        recorded = RecordedRequest(method, params, files, dict(request.headers), body)
        self.requests.append(recorded)
        self._notify()
        return recorded

    # -- faults and timing

    def clear_faults(self) -> None:
        self.faults.clear()

    async def _sleep(self, seconds: float) -> None:
        """Sleep that ends early when the server stops."""
        if seconds <= 0:
            return
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass

    async def _wait_for_change(self, seconds: float) -> None:
        """Long-poll helper: return after any state change, after `seconds`, or on stop."""
        if seconds <= 0 or self._closing.is_set():
            return
        changed = self._changed
        waiters = {
            asyncio.ensure_future(changed.wait()),
            asyncio.ensure_future(self._closing.wait()),
        }
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    @property
    def closing(self) -> bool:
        return self._closing.is_set()


def json_response(payload: Any, status: int = 200, **kwargs: Any) -> web.Response:
    return web.json_response(payload, status=status, dumps=_compact_dumps, **kwargs)


def _compact_dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
