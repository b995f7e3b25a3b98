"""The `helpdesk` command: the demo transcript, config errors, database and knowledge-base tools."""

from __future__ import annotations

from pathlib import Path

import yaml

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
