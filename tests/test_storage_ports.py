"""Every storage port (core.store) is implemented once, by the repository class that
`SqlTransaction` binds to it, with the same parameters: the port is the only declaration."""

from __future__ import annotations

import inspect
import typing

import pytest

from core import store as ports
from storage.transaction import SqlTransaction, _Aggregate

AGGREGATES = typing.get_type_hints(ports.Transaction)


def _methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }


def test_the_transaction_offers_every_aggregate_of_the_port() -> None:
    offered = {n for n, v in vars(SqlTransaction).items() if isinstance(v, _Aggregate)}
    assert offered == set(AGGREGATES)


@pytest.mark.parametrize("aggregate", sorted(AGGREGATES))
def test_repository_implements_its_port_with_the_same_signatures(aggregate: str) -> None:
    port = AGGREGATES[aggregate]
    repository = vars(SqlTransaction)[aggregate].repository
    wanted, offered = _methods(port), _methods(repository)
    assert set(offered) == set(wanted), f"{repository.__name__} vs {port.__name__}"
    for name, signature in wanted.items():
        mine = offered[name]
        assert [(p.name, p.kind, p.default) for p in mine.parameters.values()] == [
            (p.name, p.kind, p.default) for p in signature.parameters.values()
        ], f"{repository.__name__}.{name}"
        assert str(mine.return_annotation) == str(signature.return_annotation), name
