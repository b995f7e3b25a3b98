"""The `helpdesk` command: the demo transcript, config errors, database and knowledge-base tools."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

from bot.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_demo_script() -> str:
    """The conversation the README shows, so that its example keeps working."""
    text = README.read_text(encoding="utf-8")
    start = text.index("helpdesk demo --script - <<'EOF'\n") + len(
        "helpdesk demo --script - <<'EOF'\n"
    )
    return text[start : text.index("\nEOF\n", start) + 1]


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[database]\nurl = "sqlite+aiosqlite:///helpdesk.sqlite3"\n', encoding="utf-8")
    return path


def test_readme_demo_prints_the_whole_conversation(tmp_path, capsys):
    script = tmp_path / "demo.txt"
    script.write_text(_readme_demo_script(), encoding="utf-8")
    assert main(["demo", "--script", str(script)]) == 0
    out = capsys.readouterr().out
    assert "👍 Helped" in out  # the answer came with its buttons
    assert "I have opened ticket #1" in out
    assert "🆕 Ticket #1" in out
    assert "Hi! I have sent you a reset link." in out
    assert "checked the account" not in out.split("// internal note: checked the account")[1]
    assert "Ticket #1 is closed" in out and "How would you rate the help" in out
    assert out.rstrip().endswith("#1 — closed — How do I reset my password?")


def test_demo_in_russian(tmp_path, capsys):
    script = tmp_path / "demo.txt"
    script.write_text("Как сбросить пароль?\n", encoding="utf-8")
    assert main(["demo", "--lang", "ru", "--script", str(script)]) == 0
    out = capsys.readouterr().out
    assert "Здравствуйте" in out and "👍 Помогло" in out


def test_missing_config_file_is_one_clear_line(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.toml"), "db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"configuration error: {tmp_path / 'nope.toml'}: file not found"


def test_unknown_key_is_one_clear_line(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text("[bot]\ncolour = 'red'\n", encoding="utf-8")
    assert main(["--config", str(path), "db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "[bot] colour" in err and "Traceback" not in err


def test_db_upgrade_and_knowledge_base_round_trip(tmp_path, capsys):
    config = _config(tmp_path)
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert (tmp_path / "helpdesk.sqlite3").exists()

    faq = tmp_path / "faq.yaml"
    faq.write_text(
        yaml.safe_dump(
            [
                {"question": "How do I book a meeting room?", "answer": "Use the Rooms app.",
                 "language": "en", "category": "office", "variants": ["reserve a room"]},
            ],
            allow_unicode=True,
        ),
        encoding="utf-8",
    )  # fmt: skip
    assert main(["--config", str(config), "kb", "import", str(faq)]) == 0
    assert "1 added" in capsys.readouterr().out

    assert main(["--config", str(config), "kb", "ask", "book a meeting room"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("decision: answer")
    assert "1. #1 [en]" in out and "How do I book a meeting room?" in out

    exported = tmp_path / "out.csv"
    assert main(["--config", str(config), "kb", "export", str(exported)]) == 0
    assert "Use the Rooms app." in exported.read_text(encoding="utf-8")

    # Re-importing the export replaces by id instead of duplicating.
    assert main(["--config", str(config), "kb", "import", str(exported)]) == 0
    assert "0 added, 1 replaced" in capsys.readouterr().out


def test_bad_knowledge_file_changes_nothing(tmp_path, capsys):
    config = _config(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- question: no answer here\n  language: en\n", encoding="utf-8")
    assert main(["--config", str(config), "kb", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "answer" in err and "Traceback" not in err


def test_config_is_accepted_before_or_after_the_command(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path)
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert out.count(f"sqlite+aiosqlite:///{tmp_path}/helpdesk.sqlite3") == 2


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line[:4].isdigit()]  # log lines aside
    assert len(lines) == 1, err
    return lines[0]


def test_mistakes_at_the_terminal_are_one_line_each(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = str(_config(tmp_path))
    assert main(["--config", config, "kb", "export", "faq.txt"]) == 1
    assert "unknown format '.txt'; use .yaml, .yml or .csv" in _one_error_line(capsys)
    assert main(["--config", config, "kb", "export", "missing/faq.yaml"]) == 1
    assert "the directory missing does not exist" in _one_error_line(capsys)
    for option in ("--png", "--csv"):
        report = ["report", "--from", "2026-01-01", "--to", "2026-01-31"]
        assert main(["--config", config, *report, option, "missing/out"]) == 1
        assert "cannot write missing/out" in _one_error_line(capsys)
    assert main(["--config", config, "kb", "ask", "printer"]) == 1
    line = _one_error_line(capsys)
    assert "knowledge base is empty" in line and "helpdesk kb import" in line


def test_kb_ask_refuses_a_limit_below_one(tmp_path, capsys):
    for limit in ("0", "-3"):
        try:
            main(["--config", str(_config(tmp_path)), "kb", "ask", "x", "--limit", limit])
        except SystemExit as exit:
            assert exit.code == 2
        assert "--limit: must be 1 or more" in capsys.readouterr().err


def _database_config(tmp_path: Path, url: str) -> str:
    path = tmp_path / "db.toml"
    path.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    return str(path)


def test_a_database_server_that_does_not_answer_is_one_line(tmp_path, capsys):
    down = _database_config(tmp_path, "postgresql+asyncpg://postgres@127.0.0.1:9/test")
    assert main(["--config", down, "db", "upgrade"]) == 1
    line = _one_error_line(capsys)
    assert "cannot reach the database postgresql+asyncpg://postgres@127.0.0.1:9/test" in line
    assert "is it running?" in line


def test_a_database_that_does_not_exist_is_one_line_naming_the_fix(
    database_url, database_backend, tmp_path, capsys
):
    """SQLite in a directory that cannot be created; a PostgreSQL database not created."""
    if database_backend == "sqlite":
        url, fix = "sqlite+aiosqlite:////proc/no-such-dir/helpdesk.sqlite3", "/proc/no-such-dir"
    else:
        missing = make_url(database_url).set(database="helpdesk_no_such_database")
        url, fix = missing.render_as_string(hide_password=False), "createdb"
    assert main(["--config", _database_config(tmp_path, url), "db", "upgrade"]) == 1
    assert fix in _one_error_line(capsys)


def test_backup_copies_what_was_committed_while_a_writer_is_busy(tmp_path, capsys):
    config = _config(tmp_path)
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    faq = tmp_path / "faq.yaml"
    entry = {"question": "How do I book a room?", "answer": "Use the Rooms app.", "language": "en"}
    faq.write_text(yaml.safe_dump([entry]), encoding="utf-8")
    assert main(["--config", str(config), "kb", "import", str(faq)]) == 0
    writer = sqlite3.connect(tmp_path / "helpdesk.sqlite3", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the running bot, in the middle of a transaction
    writer.execute("DELETE FROM faq_entries")
    copy = tmp_path / "copy.sqlite3"
    try:
        assert main(["--config", str(config), "backup", str(copy)]) == 0
    finally:
        writer.rollback()
        writer.close()
    assert "integrity checked" in capsys.readouterr().out
    with sqlite3.connect(copy) as restored:
        questions = [row[0] for row in restored.execute("SELECT question FROM faq_entries")]
    assert questions == ["How do I book a room?"]

    assert main(["--config", str(config), "backup", str(copy)]) == 1  # never overwritten
    assert "already exists" in capsys.readouterr().err
    postgres = tmp_path / "pg.toml"
    postgres.write_text('[database]\nurl = "postgresql://h@127.0.0.1:1/x"\n', encoding="utf-8")
    assert main(["--config", str(postgres), "backup", str(tmp_path / "pg.sqlite3")]) == 1
    assert "pg_dump" in capsys.readouterr().err
