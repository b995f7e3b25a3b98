"""How Slack's failures become the outbox's send errors, and the SDK's retry policy.

Slack answers most errors with HTTP 200 and `{"ok": false, "error": "<code>"}`; slack_sdk raises
`SlackApiError` for those and for non-2xx statuses (429 with `Retry-After`, 5xx).
"""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from core.ports import (
    PermanentSendError,
    RetryAfter,
    SendError,
    ThreadGone,
    TransientSendError,
)

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = 1.0

# The addressee is gone or will never accept this message.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "account_inactive",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "messages_tab_disabled",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "restricted_action_thread_locked",
        "no_text",
        "msg_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_arguments",
        "too_many_attachments",
    }
)
# The parent of the thread we post into no longer exists.
THREAD_GONE_ERRORS = frozenset({"thread_not_found", "invalid_thread_ts"})
# Slack's own trouble: try again later.
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
# The operator's configuration is wrong (token, scopes). Retried with backoff rather than
# failed for good, so that fixing the configuration loses no message.
CONFIGURATION_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "not_allowed_token_type",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)


def error_code(error: SlackApiError) -> str:
    response = error.response
    try:
        return str(response.get("error") or "") if response is not None else ""
    except (AttributeError, TypeError, ValueError):  # not JSON (a proxy's error page)
        return ""


def retry_after_seconds(headers: dict | None) -> float:
    """`Retry-After` from response headers (values may be lists, as slack_sdk keeps them)."""
    for name, value in (headers or {}).items():
        if name.lower() != "retry-after":
            continue
        raw = value[0] if isinstance(value, list) and value else value
        try:
            return max(0.0, float(raw))
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER
    return DEFAULT_RETRY_AFTER


def to_send_error(error: Exception) -> SendError:
    """The outbox's view of a failed Slack call."""
    if isinstance(error, SendError):
        return error
    if isinstance(error, SlackApiError):
        code = error_code(error)
        status = getattr(error.response, "status_code", 200)
        if status == 429 or code == "ratelimited":
            seconds = retry_after_seconds(getattr(error.response, "headers", None))
            return RetryAfter(seconds, "slack rate limit")
        if code in THREAD_GONE_ERRORS:
            return ThreadGone(code)
        if code in PERMANENT_ERRORS:
            return PermanentSendError(code)
        if code in CONFIGURATION_ERRORS:
            log.error("slack refused the bot's credentials", extra={"error": code})
            return TransientSendError(code)
        if code in TRANSIENT_ERRORS or status >= 500 or not code:
            return TransientSendError(code or f"HTTP {status}")
        return PermanentSendError(code)
    # Connection trouble, timeouts, a failed upload step (SlackRequestError), anything else:
    # worth another try; the outbox gives up after its maximum number of attempts.
    return TransientSendError(f"{type(error).__name__}: {error}")


class ShortRateLimitRetry(AsyncRetryHandler):
    """Retry a rate-limited call once, in place, when Slack asks for a short wait.

    Not for `skip_methods`: a 429 on chat.postMessage goes straight back to the outbox as
    RetryAfter, because one outbox round waits for all of its sends and an in-place sleep there
    would hold up every other chat. Lookups done while an event waits for its acknowledgement
    (users.info) are skipped too: the 3-second budget is better spent on a fallback."""

    def __init__(
        self,
        max_retry_count: int = 1,
        max_wait: float = 2.0,
        skip_methods: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(max_retry_count)
        self.max_wait = max_wait
        self.skip_methods = skip_methods

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        if api_method(request.url) in self.skip_methods:
            return False
        return retry_after_seconds(response.headers) <= self.max_wait

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        await asyncio.sleep(retry_after_seconds(response.headers if response else None))
        state.increment_current_attempt()


def api_method(url: str) -> str:
    """ "chat.postMessage" from ".../api/chat.postMessage?x=y"."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def retry_handlers(skip_rate_limit_retry: frozenset[str]) -> list[AsyncRetryHandler]:
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=1),
        ShortRateLimitRetry(skip_methods=skip_rate_limit_retry),
    ]
