"""Fake platform servers for tests: FakeTelegram (Bot API), FakeVK (API + Bots Long Poll) and
FakeSlack (Web API + Socket Mode). Each runs on 127.0.0.1 on an ephemeral port as an async
context manager, records every request, and lets tests inject updates/events and faults, so the
channel adapters can be tested through the real SDKs. Fixtures: tests/fakes/fixtures.py."""
