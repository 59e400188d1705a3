"""The settings reference in README is the config model's own, every setting is described, and
`piccl settings` never shows a password."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from plugin.cli import cli
from plugin.config import Settings
from plugin.config_reference import BEGIN, END, current_values, markdown, sections

README = Path(__file__).parents[2] / "README.md"


def test_the_readme_reference_is_the_config_model_s_own() -> None:
    # GIVEN the README and the config model
    text = README.read_text(encoding="utf-8")
    # WHEN the reference is generated from the model
    block = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
    # THEN the README holds exactly it (refresh: python -m plugin.config_reference --write README.md)
    assert block.strip() == markdown().strip(), "README's settings reference is stale: run " \
        "`python -m plugin.config_reference --write README.md`"


def test_every_setting_is_described_and_named_as_the_environment_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN every row of the reference
    rows = [row for section in sections() for row in section.rows]
    # THEN each has a description
    assert len(rows) > 80
    assert [row.env for row in rows if not row.description] == []
    # AND each variable is the one the settings read
    assert current_values(Settings())["webdav.poll_interval_min"] == "15"
    for name, value in {"PICCL_WEBDAV__POLL_INTERVAL_MIN": "7", "PICCL_SERVICE__STOP_TIMEOUT_S": "7",
                        "PICCL_ANALYSIS_SIZE": "512"}.items():
        monkeypatch.setenv(name, value)
    values = current_values(Settings())
    assert (values["webdav.poll_interval_min"], values["service.stop_timeout_s"], values["analysis_size"]) == \
        ("7", "7", "512")


def test_piccl_settings_shows_what_is_in_effect_and_hides_passwords(tmp_path: Path) -> None:
    # GIVEN a password and a worker count set in the environment
    env = {"PICCL_PASSWORD": "hunter2-household", "PICCL_WORKERS__COUNT": "3", "PICCL_DATA_DIR": str(tmp_path),
           "PICCL_DATABASE_URL": "postgresql+psycopg2://piccl:hunter2-db@postgres:5432/piccl"}
    # WHEN the settings are listed
    result = CliRunner().invoke(cli, ["settings", "--changed"], env=env)
    # THEN the changed ones show, the password only as set
    assert result.exit_code == 0, result.output
    assert "PICCL_WORKERS__COUNT" in result.output and "3" in result.output
    assert "PICCL_PASSWORD" in result.output and "hunter2" not in result.output
    assert "PICCL_DATABASE_URL" in result.output
    url = "postgresql+psycopg2://piccl:hunter2-db@postgres:5432/piccl"
    assert current_values(Settings(database_url=url))["database_url"] == \
        "postgresql+psycopg2://piccl:***@postgres:5432/piccl"
    assert "PICCL_ANALYSIS_SIZE" not in result.output
