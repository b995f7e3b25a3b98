"""Files on VK: turning outgoing attachments into VK attachment strings (re-using VK's own ids,
uploading bytes that came from another platform) and downloading what users sent."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import aiohttp
from vkbottle import API, DocMessagesUploader, PhotoMessageUploader, VoiceMessageUploader

from core.messages import Attachment
from core.ports import PermanentSendError, TransientSendError

log = logging.getLogger(__name__)

MAX_PHOTO_SIZE = 50 * 1024 * 1024
MAX_DOC_SIZE = 200 * 1024 * 1024
MAX_ATTACHMENTS = 10  # per message
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=300, sock_connect=15)


class VkFiles:
    def __init__(self, api: API, channel: str) -> None:
        self.api = api
        self.channel = channel

    async def attachment_strings(
        self, attachments: Sequence[Attachment], peer_id: int
    ) -> list[str]:
        strings = []
        for attachment in attachments:
            string = await self._attachment_string(attachment, peer_id)
            if string is None:
                log.warning(
                    "vk attachment left out",
                    extra={
                        "kind": attachment.kind,
                        "file": attachment.file_name or attachment.file_id,
                    },
                )
            else:
                strings.append(string)
        if len(strings) > MAX_ATTACHMENTS:
            log.warning("vk message takes 10 attachments, the rest are left out")
        return strings[:MAX_ATTACHMENTS]

    async def _attachment_string(self, attachment: Attachment, peer_id: int) -> str | None:
        ours = attachment.channel in (None, self.channel)
        if ours and attachment.file_id and attachment.content is None:
            return attachment.file_id  # a VK file is re-sent by its id
        content = attachment.content
        if content is None and ours and attachment.url:
            content = await self.download(attachment)  # e.g. a sticker: VK has no id to re-send
        if content is None:
            return None
        return await self._upload(attachment, content, peer_id)

    async def _upload(self, attachment: Attachment, content: bytes, peer_id: int) -> str:
        if attachment.kind == "photo" and len(content) <= MAX_PHOTO_SIZE:
            return await PhotoMessageUploader(self.api).upload(content, peer_id=peer_id)
        if attachment.kind == "voice" and (attachment.mime_type or "audio/ogg") == "audio/ogg":
            return await VoiceMessageUploader(self.api).upload(
                content, peer_id=peer_id, title=attachment.file_name or "voice.ogg"
            )
        if len(content) > MAX_DOC_SIZE:
            raise PermanentSendError(f"file of {len(content)} bytes is over VK's limit")
        title = attachment.file_name or _default_name(attachment)
        return await DocMessagesUploader(self.api).upload(content, peer_id=peer_id, title=title)

    async def download(self, attachment: Attachment) -> bytes:
        if not attachment.url:
            raise PermanentSendError(f"VK gives no download address for this {attachment.kind}")
        try:
            async with self.api.http_client.request(
                attachment.url, "GET", timeout=DOWNLOAD_TIMEOUT
            ) as response:
                if response.status >= 500 or response.status == 429:
                    raise TransientSendError(f"download answered HTTP {response.status}")
                if response.status >= 400:
                    raise PermanentSendError(f"download answered HTTP {response.status}")
                return await _read_at_most(response, MAX_DOC_SIZE)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TransientSendError(f"download failed: {error!r}") from error


def _default_name(attachment: Attachment) -> str:
    return {"photo": "photo.jpg", "voice": "voice.ogg", "video": "video.mp4"}.get(
        attachment.kind, "file"
    )


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, refused once it grows past `limit` (a file no platform here would take must
    not fill the memory first)."""
    if response.content_length is not None and response.content_length > limit:
        raise PermanentSendError(f"the file is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise PermanentSendError(f"the file is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
