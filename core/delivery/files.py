"""Files carried across platforms: a file from another platform is downloaded there and handed
to the target adapter as bytes."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

from core.messages import Attachment
from core.ports import ChannelAdapter, PermanentSendError

log = logging.getLogger(__name__)


async def carry(
    attachments: tuple[Attachment, ...],
    target: ChannelAdapter,
    adapters: Mapping[str, ChannelAdapter],
) -> tuple[Attachment, ...]:
    """Files from another platform are downloaded there and handed over as bytes. A file
    that cannot be fetched for good is left out so that the text still arrives (the ticket
    keeps the file's record); a passing failure retries the whole message."""
    carried = []
    for attachment in attachments:
        inline = attachment.inline_content()
        if inline is not None:  # made by the bot: no platform to fetch it from
            attachment = dataclasses.replace(attachment, content=inline, url=None)
        if attachment.channel in (None, target.name) or attachment.content is not None:
            carried.append(attachment)
            continue
        source = adapters.get(attachment.channel)
        try:
            if source is None:
                raise PermanentSendError(f"no adapter for {attachment.channel!r}")
            content = await source.download(attachment)
        except PermanentSendError as error:
            log.warning(
                "attachment left out",
                extra={"file": attachment.file_name or attachment.file_id, "error": str(error)},
            )
            continue
        if len(content) > target.max_file_size:
            log.warning("attachment too large for the target", extra={"size": len(content)})
            continue
        carried.append(dataclasses.replace(attachment, content=content, size=len(content)))
    return tuple(carried)
