"""The HTTP API's tokens: what each scope allows, how a secret is made and recognized.

A secret is 32 random bytes, shown once when the token is made (`helpdesk api-token create`);
the database keeps its SHA-256 only. A slow hash would add nothing: the secret is random, not a
password a person chose, so its hash cannot be guessed back."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from core.domain import AuditEntry
from core.domain_toolkit import ApiToken
from core.store import Store, Transaction

SCOPES = {
    "tickets:read": "list tickets and read them with their messages",
    "tickets:write": "open tickets, reply, add notes, change status, priority, category, "
    "assignee and line",
    "kb:read": "read knowledge-base entries",
    "kb:write": "create, change and delete knowledge-base entries",
    "users:read": "read users",
    "users:write": "ban and unban users",
    "reports:read": "the /stats figures",
}
PREFIX = "hd_"
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class TokenError(ValueError):
    """A token that cannot be made as asked (the message says why)."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


async def create_token(
    store: Store, name: str, scopes: list[str], now: datetime
) -> tuple[ApiToken, str]:
    """A new token and its secret (the only time the secret is seen), audited as made by the
    command line."""
    if not NAME.match(name):
        raise TokenError("a token name is 1-64 of a-z, 0-9, '_', '.', '-' (not first)")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise TokenError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if not scopes:
        raise TokenError("give at least one --scope")
    secret = PREFIX + secrets.token_urlsafe(32)
    async with store.transaction() as tx:
        token = await tx.api_tokens.create(name, hash_secret(secret), scopes, now)
        if token is None:
            raise TokenError(f"a token named {name!r} exists; revoke it first")
        await _audit(tx, "api_token.create", token, now, after={"scopes": sorted(scopes)})
    return token, secret


async def revoke_token(store: Store, name: str, now: datetime) -> ApiToken | None:
    async with store.transaction() as tx:
        token = await tx.api_tokens.revoke(name)
        if token is not None:
            await _audit(
                tx, "api_token.revoke", token, now, before={"scopes": sorted(token.scopes)}
            )
    return token


async def _audit(tx: Transaction, action: str, token: ApiToken, now: datetime, **change) -> None:
    await tx.audit.record(AuditEntry("cli", action, "api_token", token.name, now, **change))
