"""The HTTP API's other operations: tokens recognized, knowledge-base entries (the admin
commands' validation and audit), users and their bans, the /stats figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, tzinfo

from core.api.acting import API_CHANNEL, Acting, ApiError
from core.api.tokens import hash_secret
from core.domain import Ban, FaqDraft, FaqEntry, Ticket, User
from core.domain_toolkit import ApiToken
from core.i18n import SUPPORTED_LANGUAGES
from core.reports.build import Report, build_report, parse_period
from core.staff.admin_commands import AdminCommands
from core.staff.ban_commands import BanCommands
from core.work import Work


@dataclass(eq=False)
class DirectoryApi(Acting):
    admin: AdminCommands
    bans: BanCommands
    zone: tzinfo  # the days of a report

    async def authenticate(self, secret: str) -> ApiToken | None:
        async with self.unit_of_work.store.transaction() as tx:
            return await tx.api_tokens.by_hash(hash_secret(secret))

    # -- knowledge base

    async def entries(self) -> list[FaqEntry]:
        async with self.unit_of_work() as work:
            return await work.tx.faq.list()

    async def entry(self, entry_id: int) -> FaqEntry:
        async with self.unit_of_work() as work:
            return await self._entry(work, entry_id)

    async def save_entry(self, token: ApiToken, entry_id: int | None, fields: dict) -> FaqEntry:
        """Create (no `entry_id`) or change an entry; `fields` as FaqDraft's, those left out
        keep their value (a new entry needs question and answer)."""
        async with self.unit_of_work() as work:
            turn = await self._token_turn(work, token)
            if entry_id is None:
                draft = _draft(None, fields)
                return await self.admin.create_entry(turn, draft)
            entry = await self._entry(work, entry_id)
            return await self.admin.update_entry(turn, entry, _draft(entry, fields))

    async def delete_entry(self, token: ApiToken, entry_id: int) -> None:
        async with self.unit_of_work() as work:
            entry = await self._entry(work, entry_id)
            await self.admin.delete_entry(await self._token_turn(work, token), entry)

    # -- users

    async def user(self, channel: str, external_id: str) -> tuple[User, list[Ticket]]:
        async with self.unit_of_work() as work:
            user = await self._user(work, channel, external_id)
            return user, await work.tx.tickets.list_for_user(user.id, limit=20)

    async def ban(
        self,
        token: ApiToken,
        person: tuple[str, str],
        shadow: bool,
        duration: timedelta | None,
        reason: str,
    ) -> Ban:
        async with self.unit_of_work() as work:
            user = await self._user(work, *person)
            ban = await self.bans.impose(await self._token_turn(work, token), user, shadow,
                                         duration, reason)  # fmt: skip
            if ban is None:
                raise ApiError(409, "staff_member", "staff members cannot be banned")
            return ban

    async def unban(self, token: ApiToken, person: tuple[str, str]) -> bool:
        async with self.unit_of_work() as work:
            user = await self._user(work, *person)
            return await self.bans.lift(await self._token_turn(work, token), user)

    # -- reports

    async def report(self, first: str, last: str, line: str | None) -> Report:
        async with self.unit_of_work() as work:
            period = parse_period(f"{first}..{last}", work.now, self.zone)
            if period is None:
                raise ApiError(400, "bad_period", "from and to are days YYYY-MM-DD, at most 366")
            name = self._line(line).name if line else None
            goal = self.desk.sla.goal if self.desk.sla else None
            return await build_report(work.tx, period, self.desk.lines, work.now, name, goal)

    async def _entry(self, work: Work, entry_id: int) -> FaqEntry:
        entry = await work.tx.faq.get(entry_id)
        if entry is None:
            raise ApiError(404, "entry_not_found", f"no knowledge-base entry {entry_id}")
        return entry

    async def _user(self, work: Work, channel: str, external_id: str) -> User:
        user = await work.tx.users.find(channel, external_id)
        if user is None or channel == API_CHANNEL:
            raise ApiError(404, "user_not_found", f"no user {channel}:{external_id}")
        return user


def _draft(entry: FaqEntry | None, fields: dict) -> FaqDraft:
    """What the bot command checks: a question and an answer, a language it speaks."""
    question = fields.get("question", entry.question if entry else "")
    answer = fields.get("answer", entry.answer if entry else "")
    language = fields.get("language", entry.language if entry else SUPPORTED_LANGUAGES[0])
    if not question.strip() or not answer.strip():
        raise ApiError(422, "empty", "an entry needs a question and an answer")
    if language not in SUPPORTED_LANGUAGES:
        raise ApiError(422, "bad_language", f"language is one of {', '.join(SUPPORTED_LANGUAGES)}")
    variants = fields.get("variants", entry.variants if entry else ())
    return FaqDraft(
        question=question.strip(),
        answer=answer.strip(),
        language=language,
        variants=tuple(v.strip() for v in variants if v.strip()),
        category=fields.get("category", entry.category if entry else None) or None,
        enabled=fields.get("enabled", entry.enabled if entry else True),
    )
