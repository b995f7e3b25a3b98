"""Who may do what. Roles come from the config (the bootstrap admins) and from /grant in storage.

An admin is also a supervisor and an agent; a supervisor is also an agent."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from core.domain import Role
from core.store import Transaction
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


def _effective(roles: Iterable[Role]) -> set[Role]:
    effective: set[Role] = set()
    for role in roles:
        effective |= _IMPLIED[role]
    return effective


class Roles:
    def __init__(self, bootstrap: Mapping[tuple[str, str], Iterable[str]] | None = None) -> None:
        self.bootstrap = {key: {Role(r) for r in roles} for key, roles in (bootstrap or {}).items()}

    async def of(self, turn: Turn) -> set[Role]:
        return await self.of_identity(turn.tx, turn.user.channel, turn.user.external_id)

    async def of_identity(self, tx: Transaction, channel: str, external_id: str) -> set[Role]:
        """The effective roles (implied ones included) of the person "channel:external_id"."""
        key = (channel, external_id)
        granted = {Role(r) for r in await tx.roles.of(*key) if r in Role.__members__.values()}
        return _effective(granted | self.bootstrap.get(key, set()))

    async def holders(self, tx: Transaction) -> dict[tuple[str, str], set[Role]]:
        """Everyone holding some role (from the config or granted), with the effective roles."""
        granted: dict[tuple[str, str], set[Role]] = {
            key: set(roles) for key, roles in self.bootstrap.items()
        }
        for channel, external_id, role in await tx.roles.list():
            if role in Role.__members__.values():
                granted.setdefault((channel, external_id), set()).add(Role(role))
        return {key: _effective(roles) for key, roles in granted.items()}

    async def allows(self, turn: Turn, role: Role, command: str) -> bool:
        """True when the speaker holds `role`; otherwise log and audit the refused attempt."""
        if role in await self.of(turn):
            return True
        log.warning(
            "command refused",
            extra={"command": command, "actor": turn.actor, "required_role": role.value},
        )
        await turn.audit("command.refused", "command", command, after={"required": role.value})
        return False

    async def require(
        self,
        turn: Turn,
        role: Role,
        command: str,
        text: Callable[..., str],
        action: str | None = None,
    ) -> bool:
        """`allows`, and a refusal answered with `text` (the staff-language catalog lookup);
        `action` names what was refused (default "/command")."""
        if await self.allows(turn, role, command):
            return True
        await turn.reply(
            text("staff.refused", action=action or f"/{command}", role=text(f"role.{role.value}"))
        )
        return False
