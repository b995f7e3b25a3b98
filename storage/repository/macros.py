"""Canned replies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from core.domain_toolkit import Macro
from storage.mapping import macro_from_row
from storage.models import macros
from storage.repository._sql import Repository, insert_for


class MacroRepository(Repository):
    """`core.store.Macros` over SQL."""

    def get(self, name: str) -> Macro | None:
        row = self.conn.execute(select(macros).where(macros.c.name == name)).first()
        return macro_from_row(row) if row is not None else None

    def put(self, name: str, texts: dict[str, str], by: str, now: datetime) -> bool:
        """Save the macro; True when it is new, False when it replaced one."""
        values = {"texts": texts, "updated_by": by, "updated_at": now}
        statement = (
            insert_for(self.conn.dialect.name, macros)
            .values(name=name, **values)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        if self.conn.execute(statement).rowcount:
            return True
        self.conn.execute(macros.update().where(macros.c.name == name).values(**values))
        return False

    def delete(self, name: str) -> bool:
        return self.conn.execute(delete(macros).where(macros.c.name == name)).rowcount > 0

    def list(self) -> list[Macro]:
        return [
            macro_from_row(row) for row in self.conn.execute(select(macros).order_by(macros.c.name))
        ]
