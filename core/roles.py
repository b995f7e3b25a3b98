"""Who may do what. Roles come from the config (the bootstrap admins) and from /grant in storage.

An admin is also a supervisor and an agent; a supervisor is also an agent."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from core.domain import Role
from core.turn import Turn

log = logging.getLogger(__name__)

_IMPLIED = {
    Role.ADMIN: {Role.ADMIN, Role.SUPERVISOR, Role.AGENT},
    Role.SUPERVISOR: {Role.SUPERVISOR, Role.AGENT},
    Role.AGENT: {Role.AGENT},
}


def parse_identity(text: str) -> tuple[str, str] | None:
    """'telegram:12345' -> ('telegram', '12345')."""
    channel, sep, external_id = text.strip().partition(":")
    if not sep or not channel or not external_id or " " in external_id:
        return None
    return channel.lower(), external_id


class Roles:
    def __init__(self, bootstrap: Mapping[tuple[str, str], Iterable[str]] | None = None) -> None:
        self.bootstrap = {key: {Role(r) for r in roles} for key, roles in (bootstrap or {}).items()}

    async def of(self, turn: Turn) -> set[Role]:
        key = (turn.user.channel, turn.user.external_id)
        granted = {Role(r) for r in await turn.tx.get_roles(*key) if r in Role.__members__.values()}
        effective: set[Role] = set()
        for role in granted | self.bootstrap.get(key, set()):
            effective |= _IMPLIED[role]
        return effective

    async def allows(self, turn: Turn, role: Role, command: str) -> bool:
        """True when the speaker holds `role`; otherwise log and audit the refused attempt."""
        if role in await self.of(turn):
            return True
        log.warning(
            "command refused",
            extra={"command": command, "actor": turn.actor, "required_role": role.value},
        )
        await turn.tx.audit(
            turn.actor,
            "command.refused",
            "command",
            command,
            None,
            {"required": role.value},
            turn.now,
        )
        return False
