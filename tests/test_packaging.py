"""The package installs whole: every folder of code is a regular package (an editable install hides this)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_code_folder_is_a_package() -> None:
    missing = [
        str(folder.relative_to(ROOT))
        for top in ("plugin", "webui", "models")
        for folder in [ROOT / top, *(p for p in (ROOT / top).rglob("*") if p.is_dir())]
        if "__pycache__" not in folder.parts and any(folder.glob("*.py")) and not (folder / "__init__.py").exists()
    ]
    assert missing == []
