"""`SqlTransaction`: the `core.store.Transaction` implementation.

Each aggregate of the port (`tx.tickets`, `tx.outbox`, ...) is a repository class of
`storage.repository`: synchronous SQLAlchemy Core code. `_Bound` runs its methods on the
transaction's connection, through the async driver, so every operation is written once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

from sqlalchemy import Connection

from storage.repository._sql import Repository
from storage.repository.admin import AuditRepository, RoleRepository
from storage.repository.announcements import AnnouncementRepository
from storage.repository.api_tokens import ApiTokenRepository
from storage.repository.duty import DutyRepository
from storage.repository.faq import FaqRepository
from storage.repository.held import HeldMessageRepository
from storage.repository.incidents import IncidentRepository
from storage.repository.learned import LearnedRepository
from storage.repository.links import LinkRepository
from storage.repository.macros import MacroRepository
from storage.repository.outbox import OutboxRepository
from storage.repository.positions import PositionRepository
from storage.repository.questions import QuestionRepository
from storage.repository.ratings import RatingRepository
from storage.repository.reports import ReportRepository
from storage.repository.staged import StagedPartRepository
from storage.repository.tickets import TicketMessageRepository, TicketRepository
from storage.repository.users import DeliveryRepository, UserRepository
from storage.repository.vectors import VectorRepository

P = ParamSpec("P")
R = TypeVar("R")
RepositoryT = TypeVar("RepositoryT", bound=Repository)


class UnitOfWork(Protocol):
    """A database transaction in progress on one connection."""

    async def run(self, fn: Callable[Concatenate[Connection, P], R], *args: P.args) -> R:
        """Run `fn(connection, *args)` inside the transaction."""

    def savepoint(self) -> AbstractAsyncContextManager[None]: ...


class _Bound(Generic[RepositoryT]):
    """A repository's methods as coroutines running on the unit's connection."""

    def __init__(self, unit: UnitOfWork, repository: type[RepositoryT]) -> None:
        self._unit = unit
        self._repository = repository

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._repository, name)
        repository, unit = self._repository, self._unit

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await unit.run(lambda conn: method(repository(conn), *args, **kwargs))

        call.__name__ = name
        setattr(self, name, call)  # the next call skips __getattr__
        return call


class _Aggregate(Generic[RepositoryT]):
    """`tx.<name>`: the repository bound to the transaction, made on first use."""

    def __init__(self, repository: type[RepositoryT]) -> None:
        self.repository = repository

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, tx: SqlTransaction, owner: type) -> Any:
        bound = _Bound(tx._unit, self.repository)
        tx.__dict__[self.name] = bound
        return bound


class SqlTransaction:
    """One unit of work; valid only inside `async with store.transaction()`."""

    updates = _Aggregate(DeliveryRepository)
    users = _Aggregate(UserRepository)
    tickets = _Aggregate(TicketRepository)
    messages = _Aggregate(TicketMessageRepository)
    ratings = _Aggregate(RatingRepository)
    questions = _Aggregate(QuestionRepository)
    reports = _Aggregate(ReportRepository)
    duty = _Aggregate(DutyRepository)
    macros = _Aggregate(MacroRepository)
    held = _Aggregate(HeldMessageRepository)
    announcements = _Aggregate(AnnouncementRepository)
    incidents = _Aggregate(IncidentRepository)
    links = _Aggregate(LinkRepository)
    outbox = _Aggregate(OutboxRepository)
    faq = _Aggregate(FaqRepository)
    learned = _Aggregate(LearnedRepository)
    roles = _Aggregate(RoleRepository)
    audit = _Aggregate(AuditRepository)
    positions = _Aggregate(PositionRepository)
    staged = _Aggregate(StagedPartRepository)
    vectors = _Aggregate(VectorRepository)
    api_tokens = _Aggregate(ApiTokenRepository)

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A nested unit: on an exception inside it only its own changes are rolled back (the
        exception still propagates)."""
        return self._unit.savepoint()

    async def run_sync(self, fn: Callable[Concatenate[Connection, P], R], *args: P.args) -> R:
        """Run `fn(connection, *args)`, synchronous SQLAlchemy code, inside this transaction:
        for tools and tests that need SQL the repositories do not offer."""
        return await self._unit.run(fn, *args)
