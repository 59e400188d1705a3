"""`piccl albums` as a user runs it, and the albums and hearts in `piccl export`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from plugin.cli import cli
from tests.conftest import PhotoFactory


@pytest.fixture
def library(tmp_path: Path, make_photo: PhotoFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three photos, scanned with `piccl scan` (no models: albums need none)."""
    monkeypatch.setenv("PICCL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PICCL_WORKERS__KIND", "thread")
    (tmp_path / "no-models").mkdir()
    monkeypatch.setenv("PICCL_MODELS_DIR", str(tmp_path / "no-models"))
    library = tmp_path / "photos"
    for i, name in enumerate(("a.jpg", "b.jpg", "c.jpg")):
        make_photo(library / name, 480, 360, seed=i)
    ok(["scan", str(library)])
    return library


def run(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args)


def ok(args: list[str]) -> str:
    result = run(args)
    assert result.exit_code == 0, result.output
    return result.output


def refused(args: list[str]) -> str:
    result = run(args)
    assert result.exit_code == 1, result.output
    return result.output


def listed() -> dict:
    return json.loads(ok(["albums", "list", "--json"]))


def exported(tmp_path: Path) -> dict[str, dict]:
    out = tmp_path / "export.jsonl"
    ok(["export", "-o", str(out)])
    return {Path(r["path"]).name: r for r in map(json.loads, out.read_text().splitlines())}


def test_albums_from_the_command_line(library: Path, tmp_path: Path) -> None:
    a, b, c = (str(library / n) for n in ("a.jpg", "b.jpg", "c.jpg"))
    # WHEN the user makes an album (a name of two words, unquoted) and adds two photos by path
    assert "made album Summer 2024" in ok(["albums", "create", "Summer", "2024"])
    assert "Summer 2024: added 2 photos" in ok(["albums", "add", "summer 2024", a, b])
    # THEN adding them again changes nothing, and says so
    assert "added 0 photos, 2 already in it" in ok(["albums", "add", "Summer 2024", a, b])
    # AND `add` to a new name makes that album; a photo piccl does not know is refused
    assert "made album Garden" in ok(["albums", "add", "Garden", c, "a.jpg"])
    assert "not a photo piccl knows" in refused(["albums", "add", "Garden", str(library / "nope.jpg")])
    # AND the same name in other capitals is taken, the hearts' album's name reserved
    assert "already an album" in refused(["albums", "create", "GARDEN"])
    assert "hearts' own album" in refused(["albums", "create", "Favourites"])
    # WHEN photos are hearted, one twice, and the heart taken off another
    assert "hearted 2 photos" in ok(["albums", "favorite", a, c])
    assert "1 already so" in ok(["albums", "favorite", a])
    assert "unhearted 1 photo" in ok(["albums", "favorite", c, "--off"])
    # THEN the list shows the favourites and each album by name, with their photos
    found = listed()
    assert found["favorites"]["photos"] == 1
    assert [(x["name"], x["photos"]) for x in found["albums"]] == [("Garden", 2), ("Summer 2024", 2)]
    assert "Favourites (1 photo)" in ok(["albums"])
    # AND the export says which albums (sorted) each photo is in and whether it has the heart
    records = exported(tmp_path)
    assert records["a.jpg"]["albums"] == ["Garden", "Summer 2024"] and records["a.jpg"]["favorite"] is True
    assert records["b.jpg"]["albums"] == ["Summer 2024"] and records["b.jpg"]["favorite"] is False
    assert records["c.jpg"]["albums"] == ["Garden"] and records["c.jpg"]["favorite"] is False

    # WHEN the album is renamed, a photo taken out of it, and it is deleted
    assert "renamed Summer 2024 to Lisbon" in ok(["albums", "rename", "Summer 2024", "Lisbon"])
    assert "already an album" in refused(["albums", "rename", "Lisbon", "garden"])
    assert "took out 1 photo" in ok(["albums", "remove", "lisbon", b])
    assert "deleted album Lisbon; its 1 photo stay" in ok(["albums", "delete", "Lisbon"])
    assert "no album called" in refused(["albums", "delete", "Lisbon"])
    # THEN the photos are all still there, in the export, with what is left of their albums
    records = exported(tmp_path)
    assert set(records) == {"a.jpg", "b.jpg", "c.jpg"}
    assert records["a.jpg"]["albums"] == ["Garden"] and records["b.jpg"]["albums"] == []
    assert all((library / n).is_file() for n in records)
