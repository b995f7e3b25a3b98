"""Files on Slack: fetching a shared file's bytes (url_private needs the bot token) and naming
files we upload."""

from __future__ import annotations

import mimetypes
from urllib.parse import urlsplit

import aiohttp

from channels.slack_errors import retry_after_seconds
from core.messages import Attachment
from core.ports import PermanentSendError, RetryAfter, TransientSendError

READ_CHUNK = 256 * 1024


def is_trusted_file_host(url: str, api_host: str) -> bool:
    """Only Slack's own hosts get the bot token (a stored URL must never leak it elsewhere)."""
    host = (urlsplit(url).hostname or "").lower()
    return bool(host) and (host == api_host or host == "slack.com" or host.endswith(".slack.com"))


async def fetch_private_file(
    session: aiohttp.ClientSession,
    attachment: Attachment,
    token: str,
    max_size: int,
    limits: aiohttp.ClientTimeout,
) -> bytes:
    """The bytes behind `url_private`. Slack answers a request without a valid token with 200
    and its HTML sign-in page, so an HTML answer for a file that is not HTML is refused."""
    url = attachment.url or ""
    try:
        async with session.get(
            url, headers={"Authorization": f"Bearer {token}"}, timeout=limits
        ) as response:
            if response.status == 429:
                raise RetryAfter(retry_after_seconds(dict(response.headers)), "slack file download")
            if response.status >= 500:
                raise TransientSendError(f"file download: HTTP {response.status}")
            if response.status >= 400:
                raise PermanentSendError(f"file download: HTTP {response.status}")
            if response.content_type == "text/html" and attachment.mime_type != "text/html":
                raise PermanentSendError("file download answered with a sign-in page (token/scope)")
            if (response.content_length or 0) > max_size:
                raise PermanentSendError(f"file larger than {max_size} bytes")
            return await _read_at_most(response.content, max_size)
    except (aiohttp.ClientError, TimeoutError) as error:
        raise TransientSendError(f"file download: {type(error).__name__}: {error}") from error


async def _read_at_most(stream: aiohttp.StreamReader, max_size: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    async for chunk in stream.iter_chunked(READ_CHUNK):
        total += len(chunk)
        if total > max_size:
            raise PermanentSendError(f"file larger than {max_size} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def upload_name(attachment: Attachment) -> str:
    if attachment.file_name:
        return attachment.file_name
    extension = mimetypes.guess_extension(attachment.mime_type or "") or ""
    return f"{attachment.kind or 'file'}{extension}"
