"""Admin commands: who holds which role (/grant, /revoke, /roles), from inside the messenger.
Roles given in the config are not listed or changed here (see core/roles.py)."""

from __future__ import annotations

from dataclasses import dataclass

from core.commands import Command
from core.domain import Role
from core.roles import Roles, parse_identity
from core.router import Place, Router
from core.turn import Turn


@dataclass(eq=False)
class RoleCommands:
    """In a private chat with the bot or in a staff chat; admins only."""

    roles: Roles

    def register(self, router: Router) -> None:
        for name, handler in (
            ("grant", self._grant),
            ("revoke", self._revoke),
            ("roles", self._roles),
        ):
            router.add(
                name, handler, role=Role.ADMIN, place=Place.ANYWHERE, help=f"help.admin.{name}"
            )

    async def _grant(self, turn: Turn, command: Command) -> None:
        await self._change_role(turn, command, grant=True)

    async def _revoke(self, turn: Turn, command: Command) -> None:
        await self._change_role(turn, command, grant=False)

    async def _change_role(self, turn: Turn, command: Command, *, grant: bool) -> None:
        words = command.words
        identity = parse_identity(words[0]) if len(words) == 2 else None
        role = words[1].lower() if len(words) == 2 else ""
        if identity is None or role not in {r.value for r in Role}:
            await turn.reply(turn.t("admin.usage.grant" if grant else "admin.usage.revoke"))
            return
        changed = (
            await turn.tx.roles.grant(*identity, role, turn.now)
            if grant
            else await turn.tx.roles.revoke(*identity, role)
        )
        who = f"{identity[0]}:{identity[1]}"
        if changed:
            turn.after_commit.append(self.roles.forget)
            await turn.audit(
                "role.grant" if grant else "role.revoke",
                "role",
                who,
                before=None if grant else {"role": role},
                after={"role": role} if grant else None,
            )
        key = (
            ("admin.role_granted" if grant else "admin.role_revoked")
            if changed
            else "admin.role_unchanged"
        )
        await turn.reply(turn.t(key, who=who, role=role))

    async def _roles(self, turn: Turn, command: Command) -> None:
        rows = await turn.tx.roles.list()
        lines = [f"{channel}:{external_id} — {role}" for channel, external_id, role in rows]
        await turn.reply(turn.t("admin.roles", roles="\n".join(lines) or "—"))
