"""Telegram/aiogram failures translated into the core's send errors, which tell the outbox what to
do next: wait (RetryAfter), retry with backoff (TransientSendError), give up on this message
(PermanentSendError), or open a new forum topic (ThreadGone)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from core.ports import PermanentSendError, RetryAfter, SendError, ThreadGone, TransientSendError

# Descriptions (lower case) of a forum topic that cannot take messages any more. A closed topic
# is treated like a deleted one: the ticket's messages then go to a fresh topic, not nowhere.
_THREAD_GONE = ("message thread not found", "topic_deleted", "topic_closed")


def is_thread_gone(error: TelegramBadRequest) -> bool:
    description = error.message.lower()
    return any(marker in description for marker in _THREAD_GONE)


def translate(error: BaseException) -> SendError | None:
    """The send error for an exception from aiogram/aiohttp; None for anything else."""
    if isinstance(error, TelegramRetryAfter):
        return RetryAfter(float(error.retry_after), "Telegram flood control")
    if isinstance(error, TelegramMigrateToChat):
        # The group became a supergroup. The engine re-points queued messages when the
        # migration message arrives, so a later retry goes to the new chat id.
        return TransientSendError(str(error))
    if isinstance(error, TelegramBadRequest):
        if is_thread_gone(error):
            return ThreadGone(error.message)
        return PermanentSendError(error.message)  # "chat not found", invalid request...
    if isinstance(error, TelegramForbiddenError | TelegramEntityTooLarge | TelegramNotFound):
        return PermanentSendError(error.message)  # blocked by the user, kicked, too large
    if isinstance(error, TelegramUnauthorizedError):
        # A revoked token fails every send: keep the messages for when it is fixed.
        return TransientSendError(f"the bot token was rejected: {error.message}")
    if isinstance(error, TelegramNetworkError | TelegramServerError | ClientDecodeError):
        return TransientSendError(str(error))
    if isinstance(error, aiohttp.ClientResponseError):  # file downloads
        if 400 <= error.status < 500:
            return PermanentSendError(f"file download failed: HTTP {error.status}")
        return TransientSendError(f"file download failed: HTTP {error.status}")
    if isinstance(error, aiohttp.ClientError | TimeoutError | OSError | TelegramAPIError):
        return TransientSendError(f"{type(error).__name__}: {error}")
    return None


@contextmanager
def send_errors() -> Iterator[None]:
    """Re-raise aiogram/aiohttp failures of the enclosed calls as core send errors."""
    try:
        yield
    except SendError:
        raise
    except Exception as error:
        translated = translate(error)
        if translated is None:
            raise
        raise translated from error
