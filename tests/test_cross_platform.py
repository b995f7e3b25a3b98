"""One staff chat serves users from every messenger: the user's platform and the staff chat's
platform differ, files are downloaded from one and uploaded to the other."""

from __future__ import annotations

from channels.slack import SlackChannel
from channels.telegram import TelegramChannel
from channels.vk import VkChannel
from core.domain import TicketStatus
from core.messages import ConversationRef
from core.ports import RateLimits
from core.tickets.lines import SupportLine
from tests.e2e import running_helpdesk
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.fakes.vk import CHAT_PEER_OFFSET, FakeVK

UNPACED = RateLimits(per_chat=1000, per_chat_window=1.0, overall=1000)
TELEGRAM_FORUM = -1001234567890
VK_STAFF = CHAT_PEER_OFFSET + 1
VK_USER, VK_AGENT = 5, 77
SLACK_USER, SLACK_AGENT = "U0USER", "U0AGENT"
TG_AGENT = 7


def telegram_channel(fake: FakeTelegram) -> TelegramChannel:
    return TelegramChannel(
        fake.token, "polling", api_base_url=fake.base_url, polling_timeout=1,
        staff_chat_id=str(TELEGRAM_FORUM), use_topics=True, rate_limits=UNPACED,
    )  # fmt: skip


def vk_channel(fake: FakeVK) -> VkChannel:
    return VkChannel(
        fake.token, fake.group_id, "longpoll", api_base_url=fake.base_url, long_poll_wait=1,
        rate_limits=UNPACED,
    )  # fmt: skip


def slack_channel(fake: FakeSlack) -> SlackChannel:
    return SlackChannel(
        fake.bot_token, "socket", app_token=fake.app_token, api_base_url=fake.base_url,
        rate_limits=UNPACED,
    )  # fmt: skip


async def test_vk_user_with_telegram_forum_staff_chat_and_a_photo(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with FakeVK() as vk, FakeTelegram() as telegram:
        vk.add_user(VK_USER, "Ivan", "Petrov")
        telegram.add_chat(TELEGRAM_FORUM, title="Support", is_forum=True)
        telegram.add_user(TG_AGENT, "Bob")
        channels = {"vk": vk_channel(vk), "telegram": telegram_channel(telegram)}
        staff = ConversationRef("telegram", str(TELEGRAM_FORUM))
        try:
            async with running_helpdesk(store, channels, staff_chat=staff) as desk:
                await vk.wait_for_long_poll()
                photo = vk.make_photo_attachment(b"\x89PNG screenshot of the error")
                event = vk.make_message_new(
                    VK_USER, "/new my monitor shows this", attachments=[photo]
                )
                event["object"]["client_info"]["lang_id"] = 3  # an English-speaking VK user
                vk.inject(event)
                await telegram.wait_until(lambda: telegram.topics, within=10)
                await desk.settle()

                topic = max(t.thread_id for t in telegram.topics.values())
                in_topic = [m for m in telegram.sent_messages(TELEGRAM_FORUM)
                            if m.get("message_thread_id") == topic]  # fmt: skip
                assert any(
                    "Ticket #1" in (m.get("text") or m.get("caption") or "") for m in in_topic
                )
                uploads = [r for r in telegram.requests if r.files]
                assert any(
                    b"screenshot of the error" in f.content
                    for r in uploads
                    for f in r.files.values()
                )

                telegram.inject(
                    telegram.make_topic_message_update(
                        TELEGRAM_FORUM, topic, TG_AGENT, "Try another cable"
                    )
                )
                await vk.wait_until(
                    lambda: any("Try another cable" in m["text"] for m in vk.sent_to(VK_USER)),
                    within=10,
                )
                telegram.inject(
                    telegram.make_topic_message_update(TELEGRAM_FORUM, topic, TG_AGENT, "/close")
                )
                await vk.wait_until(
                    lambda: any("closed by support" in m["text"] for m in vk.sent_to(VK_USER)),
                    within=10,
                )
                assert (await desk.ticket(1)).status == TicketStatus.CLOSED
        finally:
            await channels["vk"].close()


async def test_slack_user_with_vk_staff_chat(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with FakeSlack() as slack, FakeVK() as vk:
        slack.add_user(SLACK_USER, "Maria")
        vk.add_user(VK_AGENT, "Olga", "Agentova")
        channels = {"slack": slack_channel(slack), "vk": vk_channel(vk)}
        staff = ConversationRef("vk", str(VK_STAFF))
        try:
            async with running_helpdesk(store, channels, staff_chat=staff) as desk:
                await slack.wait_for_socket()
                await vk.wait_for_long_poll()
                await slack.send_event(
                    slack.make_dm_event(SLACK_USER, "/new the VPN drops every hour")
                )
                await vk.wait_until(lambda: vk.sent_to(VK_STAFF), within=10)
                await desk.settle()  # the announcement's id is recorded: a reply to it finds it
                announcement = vk.sent_to(VK_STAFF)[0]
                assert "Ticket #1" in announcement["text"] and "VPN drops" in announcement["text"]

                vk.inject(
                    vk.make_message_new(
                        VK_AGENT, "Please update the client to 5.2", peer_id=VK_STAFF,
                        reply_to_cmid=announcement["conversation_message_id"],
                    )
                )  # fmt: skip
                dm = slack.dm_channel(SLACK_USER)
                await slack.wait_until(
                    lambda: any("update the client to 5.2" in m["text"] for m in slack.sent_to(dm)),
                    within=10,
                )
                await desk.settle()
        finally:
            await channels["vk"].close()


async def test_escalation_from_a_telegram_forum_to_a_slack_line(store, tmp_path, monkeypatch):
    """A Telegram user's ticket in the first line (a Telegram forum) escalates to the second
    line (a Slack channel): the Slack thread carries the history, the Slack agent's reply reaches
    the Telegram user, and the forum topic says where the ticket went."""
    monkeypatch.chdir(tmp_path)
    tg_user, slack_l2 = 501, "C0LINE2"
    async with FakeTelegram() as telegram, FakeSlack() as slack:
        telegram.add_chat(TELEGRAM_FORUM, title="Support L1", is_forum=True)
        telegram.add_user(TG_AGENT, "Bob")
        telegram.add_user(tg_user, "Kate")
        slack.add_user(SLACK_AGENT, "Expert")
        channels = {"telegram": telegram_channel(telegram), "slack": slack_channel(slack)}
        lines = (SupportLine("L2", ConversationRef("slack", slack_l2)),)
        staff = ConversationRef("telegram", str(TELEGRAM_FORUM))
        async with running_helpdesk(store, channels, staff_chat=staff, more_lines=lines) as desk:
            await slack.wait_for_socket()
            telegram.inject(telegram.make_text_update(tg_user, "/new the database is read-only"))
            await telegram.wait_until(lambda: telegram.topics, within=10)
            await desk.settle()
            topic = max(t.thread_id for t in telegram.topics.values())
            telegram.inject(
                telegram.make_topic_message_update(
                    TELEGRAM_FORUM, topic, TG_AGENT, "/escalate L2 disk full on the primary"
                )
            )
            await slack.wait_until(lambda: slack.sent_to(slack_l2), within=10)
            await desk.settle()
            arrival = slack.sent_to(slack_l2)[0]
            assert "escalated from L1 by Bob" in arrival["text"]
            assert "the database is read-only" in arrival["text"]
            assert (await desk.ticket(1)).line == "L2"
            in_topic = [m for m in telegram.sent_messages(TELEGRAM_FORUM)
                        if m.get("message_thread_id") == topic]  # fmt: skip
            assert "escalated to L2 by Bob" in in_topic[-1]["text"]

            await slack.send_event(
                slack.make_channel_message_event(
                    slack_l2, SLACK_AGENT, "Space freed, try again", thread_ts=arrival["ts"]
                )
            )
            await telegram.wait_until(
                lambda: any(
                    "Space freed" in (m.get("text") or "") for m in telegram.sent_messages(tg_user)
                ),
                within=10,
            )
            await desk.settle()
