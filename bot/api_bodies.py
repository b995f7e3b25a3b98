"""The request bodies of the HTTP API (bot/api.py), checked by pydantic: a wrong field gets a
422 naming it, an unknown one too. Their JSON Schemas go into the OpenAPI document."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.api.tickets import TEXT_LIMIT
from core.domain import Priority, TicketStatus

Line = Annotated[str, Field(min_length=1, max_length=100)]
Category = Annotated[str, Field(max_length=100)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Person(_Body):
    channel: str = Field(min_length=1, max_length=32, examples=["telegram"])
    id: str = Field(min_length=1, max_length=128, description="the user's id on that channel")


class NewTicket(_Body):
    """Either `user` (someone who wrote to the bot before) or `email` (anyone)."""

    user: Person | None = None
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    name: str | None = Field(None, max_length=200, description="the person's name (e-mail)")
    text: str = Field(min_length=1, max_length=TEXT_LIMIT)
    subject: str | None = Field(None, max_length=200)
    priority: Priority | None = None
    category: Category | None = None
    line: Line | None = None

    @model_validator(mode="after")
    def _one_person(self) -> NewTicket:
        if (self.user is None) == (self.email is None):
            raise ValueError("give either user or email")
        return self


class TicketPatch(_Body):
    status: TicketStatus | None = None
    priority: Priority | None = None
    category: Category | None = Field(None, description='"" removes the category')
    assignee: str | None = Field(
        None, max_length=170, description='"channel:id" of an agent; "" unassigns'
    )
    line: Line | None = Field(None, description="move (escalate) to this support line")
    note: str = Field("", max_length=TEXT_LIMIT, description="with a resolution, a closing or "
                      "a move (its reason)")  # fmt: skip


class Text(_Body):
    text: str = Field(min_length=1, max_length=TEXT_LIMIT)


class NewEntry(_Body):
    question: str = Field(min_length=1, max_length=1000)
    answer: str = Field(min_length=1, max_length=TEXT_LIMIT)
    language: str = Field("en", examples=["en", "ru"])
    variants: list[Annotated[str, Field(max_length=1000)]] = Field(default_factory=list)
    category: Category | None = None
    enabled: bool = True


class EntryPatch(_Body):
    question: str | None = Field(None, min_length=1, max_length=1000)
    answer: str | None = Field(None, min_length=1, max_length=TEXT_LIMIT)
    language: str | None = None
    variants: list[Annotated[str, Field(max_length=1000)]] | None = None
    category: Category | None = None
    enabled: bool | None = None


class BanBody(_Body):
    shadow: bool = Field(False, description="keep their messages without a word to the staff")
    duration: str | None = Field(None, description="30m, 12h, 7d, 2w; none: until lifted")
    reason: str = Field("", max_length=300)
