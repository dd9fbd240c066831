"""Settings: one parse at the edge, clear errors, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from faqbot.cli import main
from faqbot.settings import SETTINGS, SettingsError, describe, example_config, load_settings, settings_table

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.very-secret-token"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_then_file_then_variables_then_flags(tmp_path: Path) -> None:
    config = write(tmp_path / "faqbot.toml", "[chat]\ncooldown_seconds = 60\nlist_page_size = 5\n")
    settings = load_settings(config, environ={})
    assert settings.chat.cooldown_seconds == 60 and settings.chat.list_page_size == 5
    assert settings.chat.command_prefix == "!faq"  # a default
    settings = load_settings(config, environ={"FAQBOT_COOLDOWN_SECONDS": "30"})
    assert settings.chat.cooldown_seconds == 30 and settings.chat.list_page_size == 5
    settings = load_settings(config, environ={"FAQBOT_COOLDOWN_SECONDS": "30"}, overrides={"chat.cooldown_seconds": 5})
    assert settings.chat.cooldown_seconds == 5
    assert settings.origins["chat.list_page_size"] == str(config)
    assert settings.origins["chat.cooldown_seconds"] == "command line"


def test_the_config_file_can_come_from_the_environment(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", '[matrix]\nhomeserver = "https://matrix.example.org/"\n')
    settings = load_settings(environ={"FAQBOT_CONFIG": str(config)})
    assert settings.matrix.homeserver == "https://matrix.example.org"


def test_a_misspelt_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "[chat]\ncooldown_second = 60\n")
    with pytest.raises(SettingsError, match=r"unknown key 'chat.cooldown_second' \(did you mean chat.cooldown_seconds"):
        load_settings(config, environ={})


def test_a_misspelt_variable_is_named_with_a_suggestion() -> None:
    with pytest.raises(
        SettingsError, match=r"unknown variable FAQBOT_MATRIX_HOMESRVER .did you mean FAQBOT_MATRIX_HOME"
    ):
        load_settings(environ={"FAQBOT_MATRIX_HOMESRVER": "https://x.org"})


def test_retired_variables_say_what_replaced_them() -> None:
    with pytest.raises(SettingsError, match=r"FAQBOT_ENCODER is no longer read: use FAQBOT_MATCHER=encoder"):
        load_settings(environ={"FAQBOT_ENCODER": "1"})


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("FAQBOT_COOLDOWN_SECONDS", "soon", "expected a number of at least 0"),
        ("FAQBOT_RELOAD_SECONDS", "fast", "expected a number from 0 to 86400"),
        ("FAQBOT_CHAT_PASSIVE", "maybe", "expected true or false"),
        ("FAQBOT_CHAT_LIST_PAGE_SIZE", "100", "expected a whole number from 1 to 25"),
        ("FAQBOT_MATCHER", "magic", "expected one of encoder, lexical"),
        ("FAQBOT_BASE_URL", "docs.example.org", "expected an http:// or https:// URL"),
        ("FAQBOT_LOG_FORMAT", "xml", "expected one of text, json"),
        ("FAQBOT_DISCORD_GUILD_ID", "my-guild", "expected a Discord id"),
        ("FAQBOT_MATRIX_MODERATORS", "@mod:example.org, example.org", "expected Matrix user ids"),
    ],
)
def test_a_bad_value_names_the_variable_the_value_and_what_is_expected(
    variable: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environ={variable: value})
    message = str(raised.value)
    assert message.startswith(f"{variable}: ") and expected in message and repr(value) in message


def test_a_bad_value_in_the_file_names_the_file_and_key(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "[knowledge]\nreload_seconds = -1\n")
    with pytest.raises(SettingsError, match=r"c.toml: knowledge.reload_seconds: expected a number from 0"):
        load_settings(config, environ={})


def test_broken_toml_is_one_clear_error(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "[chat\ncooldown = \n")
    with pytest.raises(SettingsError, match=r"c.toml: not valid TOML"):
        load_settings(config, environ={})
    with pytest.raises(SettingsError, match=r"cannot read the config file"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_secrets_never_appear_in_errors_reprs_or_the_printed_configuration(tmp_path: Path) -> None:
    settings = load_settings(environ={"FAQBOT_DISCORD_TOKEN": TOKEN, "FAQBOT_MATRIX_PASSWORD": "hunter2-secret"})
    assert TOKEN not in repr(settings) and "hunter2-secret" not in repr(settings)
    shown = describe(settings)
    assert TOKEN not in shown and "hunter2-secret" not in shown
    assert 'token = "********"  # FAQBOT_DISCORD_TOKEN' in shown
    config = write(tmp_path / "c.toml", "[discord]\ntoken = 12345678901234\n")
    with pytest.raises(SettingsError) as raised:
        load_settings(config, environ={})
    assert "12345678901234" not in str(raised.value) and "hidden" in str(raised.value)


def test_what_a_platform_still_needs_is_named() -> None:
    with pytest.raises(SettingsError, match=r"FAQBOT_DISCORD_TOKEN"):
        load_settings(environ={}).require_discord()
    with pytest.raises(SettingsError, match=r"FAQBOT_MATRIX_HOMESERVER"):
        load_settings(environ={}).require_matrix()
    with pytest.raises(SettingsError, match=r"shard 4 is outside 0..1"):
        load_settings(
            environ={"FAQBOT_DISCORD_TOKEN": TOKEN, "FAQBOT_DISCORD_SHARD_COUNT": "2", "FAQBOT_DISCORD_SHARD_IDS": "4"}
        ).require_discord()


def test_lists_parse_from_variables_and_files(tmp_path: Path) -> None:
    settings = load_settings(environ={"FAQBOT_CHAT_PASSIVE_OFF": " 123 , !room:x.org,", "FAQBOT_KNOWLEDGE": "a:b"})
    assert settings.chat.passive_off == frozenset({"123", "!room:x.org"})
    assert settings.knowledge.paths == (Path("a"), Path("b"))
    config = write(tmp_path / "c.toml", '[chat]\npassive_off = ["1", "2"]\n[discord]\nshard_ids = [0, 1]\n')
    settings = load_settings(config, environ={})
    assert settings.chat.passive_off == frozenset({"1", "2"}) and settings.discord.shard_ids == (0, 1)


def test_matrix_invites_default_to_the_bots_own_server() -> None:
    settings = load_settings(environ={"FAQBOT_MATRIX_USER_ID": "@bot:example.org"})
    assert settings.matrix.allowed_inviters == (":example.org",)


def test_faqbot_config_prints_the_effective_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAQBOT_DISCORD_TOKEN", TOKEN)
    config = write(tmp_path / "c.toml", "[chat]\nsuggestions = 5\n")
    assert main(["config", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "[chat]" in out and f"suggestions = 5  # {config}" in out and TOKEN not in out
    assert "cooldown_seconds = 600  # default" in out


def test_faqbot_config_rejects_a_misspelt_key_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path / "c.toml", "[chat]\nsugestions = 5\n")
    assert main(["config", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("faqbot: error: ") and "'chat.sugestions' (did you mean chat.suggestions?)" in err


def test_every_setting_is_documented_in_the_readme_and_the_example_config(tmp_path: Path) -> None:
    """Both are generated from SETTINGS (`python -m faqbot.settings [--example]`) and must not drift."""
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    example = (root / "examples" / "faqbot.toml").read_text(encoding="utf-8")
    assert settings_table() in readme
    assert example == example_config()
    for setting in SETTINGS:
        assert f"`{setting.variable}`" in readme and f"# {setting.key.split('.', 1)[1]} = " in example
    load_settings(root / "examples" / "faqbot.toml", environ={})  # the example itself is valid
    uncommented = "\n".join(
        line.removeprefix("# ") if " = " in line else line
        for line in example.splitlines()
        if line.startswith("[") or " = " in line
    )
    config = tmp_path / "uncommented.toml"
    config.write_text(uncommented, encoding="utf-8")
    assert load_settings(config, environ={}).chat.cooldown_seconds == 600  # every default, uncommented, is valid


def test_knowledge_limits_come_from_the_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "faq.yml").write_text("- question: Big?\n  answer: " + "x" * 5_000 + "\n", encoding="utf-8")
    (folder / "small.yml").write_text("- question: Small?\n  answer: yes\n", encoding="utf-8")
    assert main(["check", "--knowledge", str(folder)]) == 0
    capsys.readouterr()
    config = write(tmp_path / "c.toml", "[knowledge]\nmax_file_bytes = 2000\n")
    assert main(["check", "--knowledge", str(folder), "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "faq.yml" in out and "small.yml" not in out
