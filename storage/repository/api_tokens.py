"""The HTTP API's named tokens (hashes of their secrets, and scopes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select

from core.domain_toolkit import ApiToken
from storage.mapping import api_token_from_row
from storage.models import api_tokens
from storage.repository._sql import Repository, insert_for


class ApiTokenRepository(Repository):
    """`core.store.ApiTokens` over SQL."""

    def create(
        self, name: str, token_hash: str, scopes: Sequence[str], now: datetime
    ) -> ApiToken | None:
        statement = (
            insert_for(self.conn.dialect.name, api_tokens)
            .values(name=name, token_hash=token_hash, scopes=sorted(scopes), created_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(*api_tokens.c)
        )
        row = self.conn.execute(statement).first()
        return api_token_from_row(row) if row is not None else None

    def by_hash(self, token_hash: str) -> ApiToken | None:
        row = self.conn.execute(
            select(api_tokens).where(api_tokens.c.token_hash == token_hash)
        ).first()
        return api_token_from_row(row) if row is not None else None

    def revoke(self, name: str) -> ApiToken | None:
        row = self.conn.execute(
            delete(api_tokens).where(api_tokens.c.name == name).returning(*api_tokens.c)
        ).first()
        return api_token_from_row(row) if row is not None else None

    def list(self) -> list[ApiToken]:
        rows = self.conn.execute(select(api_tokens).order_by(api_tokens.c.name))
        return [api_token_from_row(row) for row in rows]
