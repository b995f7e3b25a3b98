"""Channel positions: where each channel's intake stands on its platform."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from storage.models import channel_positions
from storage.repository._sql import Repository, insert_for, per_dialect

_POSITION = select(channel_positions.c.value).where(
    channel_positions.c.channel == bindparam("channel"),
    channel_positions.c.name == bindparam("name"),
)


def _build_save(dialect: str) -> Any:
    statement = insert_for(dialect, channel_positions)
    return statement.on_conflict_do_update(
        index_elements=["channel", "name"],
        set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
    )


_save = per_dialect(_build_save)


class PositionRepository(Repository):
    """`core.store.ChannelPositions` over SQL."""

    def get(self, channel: str, name: str) -> str | None:
        params = {"channel": channel, "name": name}
        return self.conn.execute(_POSITION, params).scalar_one_or_none()

    def set(self, channel: str, name: str, value: str, now: datetime) -> None:
        params = {"channel": channel, "name": name, "value": value, "updated_at": now}
        self.conn.execute(_save(self.conn), params)
