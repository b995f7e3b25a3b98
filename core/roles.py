"""Who may do what. Roles come from the config (the bootstrap admins) and from /grant in storage.

An admin is also a supervisor and an agent; a supervisor is also an agent."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping

from core.domain import Role
from core.reread import Reread
from core.store import Transaction
from core.turn import Turn

log = logging.getLogger(__name__)

GRANTS_FRESH_SECONDS = 5.0

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


async def _read_grants(tx: Transaction) -> dict[tuple[str, str], set[Role]]:
    granted: dict[tuple[str, str], set[Role]] = {}
    for channel, external_id, role in await tx.roles.list():
        if role in Role.__members__.values():
            granted.setdefault((channel, external_id), set()).add(Role(role))
    return granted


def _effective(roles: Iterable[Role]) -> set[Role]:
    effective: set[Role] = set()
    for role in roles:
        effective |= _IMPLIED[role]
    return effective


class Roles:
    """`bootstrap`: the roles of the config. `staff_language`: the language of staff-chat
    texts. `everyone_in_staff_is_agent`: in a staff chat everyone counts as an agent (the
    config's require_agent_role = false)."""

    def __init__(
        self,
        bootstrap: Mapping[tuple[str, str], Iterable[str]] | None = None,
        staff_language: str = "en",
        everyone_in_staff_is_agent: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bootstrap = {key: {Role(r) for r in roles} for key, roles in (bootstrap or {}).items()}
        self.staff_language = staff_language
        self.everyone_in_staff_is_agent = everyone_in_staff_is_agent
        self.clock = clock
        self._granted: Reread[dict[tuple[str, str], set[Role]]] = Reread(GRANTS_FRESH_SECONDS)

    async def granted(self, tx: Transaction) -> dict[tuple[str, str], set[Role]]:
        """The roles granted in storage, by identity. Every staff message asks and grants
        change rarely: they are read at most every GRANTS_FRESH_SECONDS (core.reread)."""
        return await self._granted.get(self.clock(), lambda: _read_grants(tx))

    def forget(self) -> None:
        """Read the grants again next time (a /grant or /revoke here committed)."""
        self._granted.forget()

    async def held(self, turn: Turn, in_staff_chat: bool) -> frozenset[Role]:
        """The speaker's effective roles there (read once per turn)."""
        if turn.roles is None:
            user = turn.user
            turn.roles = frozenset(await self.of_identity(turn.tx, user.channel, user.external_id))
        if in_staff_chat and self.everyone_in_staff_is_agent:
            return turn.roles | {Role.AGENT}
        return turn.roles

    async def of_identity(self, tx: Transaction, channel: str, external_id: str) -> set[Role]:
        """The effective roles (implied ones included) of the person "channel:external_id"."""
        key = (channel, external_id)
        granted = (await self.granted(tx)).get(key, set())
        return _effective(granted | self.bootstrap.get(key, set()))

    async def holders(self, tx: Transaction) -> dict[tuple[str, str], set[Role]]:
        """Everyone holding some role (from the config or granted), with the effective roles."""
        held: dict[tuple[str, str], set[Role]] = {
            key: set(roles) for key, roles in self.bootstrap.items()
        }
        for key, roles in (await self.granted(tx)).items():
            held.setdefault(key, set()).update(roles)
        return {key: _effective(roles) for key, roles in held.items()}

    def texts_for(self, turn: Turn, in_staff_chat: bool) -> Callable[..., str]:
        """Staff chats read the staff language; a private chat the speaker's."""
        if in_staff_chat:
            return lambda key, **params: turn.texts.get(self.staff_language, key, **params)
        return turn.t

    async def require(
        self, turn: Turn, role: Role, command: str, in_staff_chat: bool, action: str | None = None
    ) -> bool:
        """True when the speaker holds `role`; otherwise the refusal is logged, audited and
        answered. `action` names what was refused (default "/command")."""
        if role in await self.held(turn, in_staff_chat):
            return True
        log.warning(
            "command refused",
            extra={"command": command, "actor": turn.actor, "required_role": role.value},
        )
        await turn.audit("command.refused", "command", command, after={"required": role.value})
        text = self.texts_for(turn, in_staff_chat)
        await turn.reply(
            text("staff.refused", action=action or f"/{command}", role=text(f"role.{role.value}"))
        )
        return False
