"""Bad input gets a clear answer, never a crash, and what users wrote arrives literally."""

from __future__ import annotations

import pytest

from core.messages import Attachment
from tests.harness import ADMIN, Harness


async def test_empty_message_gets_a_hint(store):
    bot = Harness(store)
    await bot.user_says("")
    assert "empty message" in bot.to_user()[-1]


async def test_huge_message_is_refused_with_the_limit(store):
    bot = Harness(store)
    await bot.user_says("x" * 100_000)
    assert "too long (100,000 characters; the limit is 10,000)" in bot.to_user()[-1]
    assert not bot.to_staff()


async def test_markup_is_carried_literally(store):
    bot = Harness(store)
    text = "<b>bold</b> *star* _under_ &amp; [link](http://x) `code` </pre>"
    await bot.user_says(f"/new {text}")
    assert text in bot.to_staff()[0].message.text
    await bot.agent_replies(text, ticket=1)
    assert text in bot.to_user()[-1]


async def test_emoji_mixed_scripts_and_control_characters(store):
    bot = Harness(store)
    await bot.user_says("/new 🔥 принтер 打印机 does not print\x00\x07 ok")
    announcement = bot.to_staff()[0].message.text
    assert "🔥 принтер 打印机 does not print ok" in announcement


async def test_attachment_without_text_opens_a_ticket_with_the_file(store):
    bot = Harness(store)
    photo = Attachment(kind="photo", file_id="ph-1", file_name="error.png", size=1000)
    await bot.user_says("", attachments=(photo,))
    assert "ticket #1" in bot.to_user()[-1]
    assert bot.to_staff()[0].message.attachments == (photo,)


@pytest.mark.parametrize(
    "command, expected",
    [
        ("/ticket", "Usage: /ticket N"),
        ("/ticket abc", "Usage: /ticket N"),
        ("/ticket 99999999999999999999", "Usage: /ticket N"),
        ("/ticket 42", "cannot find your ticket #42"),
        ("/close 7", "cannot find your ticket #7"),
        ("/close", "no open tickets"),
        ("/lang", "Usage: /lang"),
        ("/helped notanumber", "Glad it helped"),
        ("/article 12345", "no longer available"),
    ],
)
async def test_user_commands_with_missing_or_garbage_arguments(store, command, expected):
    bot = Harness(store)
    await bot.user_says(command)
    assert expected in bot.to_user()[-1]


@pytest.mark.parametrize(
    "command, expected",
    [
        ("/faq_add", "Usage (one field per line)"),
        ("/faq_add\nQ: only a question", "Usage (one field per line)"),
        ("/faq_add\nQ: question\nA: answer\nlang: de", "“language”"),
        ("/faq_add just some words", "“question”"),
        ("/faq_edit", "Usage: /faq_edit ID"),
        ("/faq_edit x", "Usage: /faq_edit ID"),
        ("/faq_edit 999", "no FAQ entry #999"),
        ("/faq_del", "Usage: /faq_del ID"),
        ("/faq_show -1", "Usage: /faq_show ID"),
        ("/faq_test", "Usage: /faq_test"),
        ("/faq_variant 1", "Usage: /faq_variant"),
        ("/grant someone", "Usage: /grant"),
        ("/grant memory:x superuser", "Usage: /grant"),
        ("/revoke memory:x admin", "Nothing changed"),
    ],
)
async def test_admin_commands_with_missing_or_garbage_arguments(store, command, expected):
    bot = Harness(store)
    await bot.user_says(command, user=ADMIN)
    assert expected in bot.to_user(ADMIN)[-1]


async def test_unknown_slash_text_is_treated_as_a_question(store):
    bot = Harness(store)
    await bot.user_says("/usr/local/bin is missing on my workstation after the update")
    assert "ticket #1" in bot.to_user()[-1]


async def test_file_too_large_for_the_staff_platform_gets_a_note_to_the_sender(store):
    bot = Harness(store, max_file_sizes={"memory": 10 * 1024 * 1024})
    video = Attachment(kind="video", file_id="v-1", file_name="screen.mp4", size=60 * 1024 * 1024)
    small = Attachment(kind="photo", file_id="p-1", file_name="error.png", size=1000)
    await bot.user_says("/new the app crashes, see the recording", attachments=(video, small))
    assert any("screen.mp4" in text and "too large" in text for text in bot.to_user())
    assert bot.to_staff()[0].message.attachments == (small,)
    async with store.transaction() as tx:
        [first] = (await tx.messages.list(1))[:1]
    assert first.attachments == (video, small)  # the ticket keeps the record of both


async def test_input_only_postgresql_would_refuse_is_normalized_at_the_door(store):
    """Regression: a display name over 255 characters, a lone surrogate or NUL characters took
    the apology path on PostgreSQL (and only there)."""
    bot = Harness(store)
    message = bot.user_message("/new broken \ud800 printer\x00 on floor 3")
    sender = message.sender.__class__(message.sender.external_id, "N" * 300 + "\x00\udfff", "en")
    files = (Attachment("document", "f1", "log\x00\ud83d.txt", channel="memory"),)
    hostile = message.__class__(**{**message.__dict__, "sender": sender, "attachments": files})
    await bot.deliver(hostile)
    assert "ticket #1" in bot.to_user()[-1]
    assert "broken \ufffd printer on floor 3" in bot.to_staff()[0].message.text
    async with store.transaction() as tx:
        user = await tx.users.find("memory", "u1")
        assert len(user.display_name) == 255 and "\x00" not in user.display_name
        [first] = await tx.messages.list(1)
        assert first.attachments[0].file_name == "log\ufffd.txt"
        assert [a for a in await tx.audit.list() if a.action == "message.failed"] == []


async def test_a_category_longer_than_a_ticket_may_keep_is_refused(store):
    bot = Harness(store)
    await bot.user_says("/faq_add\nQ: printer?\nA: restart it\ncat: " + "c" * 65, user=ADMIN)
    assert "category" in bot.to_user(ADMIN)[-1]
    async with store.transaction() as tx:
        assert await tx.faq.list() == []


async def test_a_flooding_user_is_asked_once_to_slow_down_and_nothing_is_lost(store):
    bot = Harness(store)
    for n in range(40):
        await bot.user_says(f"/new part {n}" if n == 0 else f"part {n}")
    warnings = [t for t in bot.to_user() if "faster than we can read" in t]
    assert len(warnings) == 1
    async with store.transaction() as tx:
        assert len(await tx.messages.list(1)) == 40  # every message kept on the ticket
    bot.clock.advance(minutes=2)
    for n in range(5):
        await bot.user_says(f"calm again {n}")
    assert sum("faster than we can read" in t for t in bot.to_user()) == 1
