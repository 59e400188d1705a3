"""Configuration: environment, file, validation with readable messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.config import ConfigError, Settings, load_settings


@pytest.mark.sqlite  # the default database URL
def test_environment_variables_configure_piccl(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PICCL_LIBRARY", f"{tmp_path}/a:{tmp_path}/b")
    monkeypatch.setenv("PICCL_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("PICCL_BLUR__METHOD", "piccl2021")
    monkeypatch.setenv("PICCL_WORKERS__COUNT", "3")
    settings = load_settings()
    assert settings.library == [tmp_path / "a", tmp_path / "b"]
    assert settings.blur.method == "piccl2021"
    assert settings.worker_count == 3
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'd' / 'piccl.sqlite3').resolve()}"


def test_a_config_file_is_read_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "piccl.yaml"
    config.write_text("library: [/photos]\nanalysis_size: 800\nblur:\n  piccl2021_threshold: 250\n")
    monkeypatch.setenv("PICCL_ANALYSIS_SIZE", "900")
    settings = load_settings(config)
    assert settings.library == [Path("/photos")]
    assert settings.analysis_size == 900
    assert settings.blur.piccl2021_threshold == 250


def test_toml_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "piccl.toml"
    config.write_text('database_url = "postgresql+psycopg2://u:p@db/piccl"\n[workers]\nkind = "thread"\n')
    settings = load_settings(config)
    assert settings.workers.kind == "thread"
    assert settings.resolved_database_url.startswith("postgresql")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PICCL_LIBARY": "/photos"}, "PICCL_LIBARY: unknown setting"),
        ({"PICCL_BLUR__METHOD": "magic"}, "blur.method: Input should be 'tiled' or 'piccl2021'"),
        ({"PICCL_ANALYSIS_SIZE": "12"}, "analysis_size: Input should be greater than or equal to 256"),
        ({"PICCL_WORKERS__KIND": "fiber"}, "workers.kind"),
    ],
)
def test_bad_configuration_is_refused_with_a_clear_message(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                                           message: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert message in str(info.value)


def test_unknown_key_in_a_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "piccl.yaml"
    config.write_text("libary: /photos\n")
    with pytest.raises(ConfigError, match="libary: unknown setting"):
        load_settings(config)


def test_missing_config_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_an_empty_password_leaves_the_password_file_in_charge(tmp_path: Path) -> None:
    # GIVEN a compose file passing PICCL_PASSWORD empty, beside a Docker secret
    secret = tmp_path / "password"
    secret.write_text("from the secret\n")
    # WHEN the settings are read
    settings = Settings(password="", password_file=secret, data_dir=tmp_path)
    # THEN the secret's password is the household's
    assert settings.household_password() == "from the secret"
    assert Settings(password="", data_dir=tmp_path).household_password() is None


def test_settings_that_cannot_work_together_are_refused_without_echoing_secrets(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a password, and a trash emptied every day of everything trashed
    monkeypatch.setenv("PICCL_PASSWORD", "hunter2-household")
    monkeypatch.setenv("PICCL_TRASH_RETENTION_DAYS", "0")
    # WHEN the settings are read THEN they are refused, saying why, and the password is not in the message
    with pytest.raises(ConfigError, match="trash_auto_empty needs trash_retention_days") as error:
        load_settings()
    assert "hunter2" not in str(error.value)
    # AND a stop grace longer than the stop timeout allows is refused too
    monkeypatch.delenv("PICCL_TRASH_RETENTION_DAYS")
    monkeypatch.setenv("PICCL_WORKERS__STOP_GRACE_S", "30")
    with pytest.raises(ConfigError, match="stop_grace_s"):
        load_settings()
