"""Everything the HTTP API does (bot/api.py serves it), in two groups: tickets, and the rest
(tokens, knowledge base, users, reports)."""

from __future__ import annotations

from dataclasses import dataclass

from core.api.directory import DirectoryApi
from core.api.tickets import TicketApi


@dataclass(frozen=True)
class ApiService:
    tickets: TicketApi
    directory: DirectoryApi
