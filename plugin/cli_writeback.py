"""``piccl writeback``: write piccl's tags, people and places into XMP sidecars beside the photos."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click
from sqlalchemy import select

from plugin.config import Settings
from plugin.store.db import open_database
from plugin.store.models import Library
from plugin.trash import UnsafePath, inside_library
from plugin.writeback.content import photos_to_write, sidecar_content
from plugin.writeback.xmp import SidecarError, merged_sidecar, sidecar_path, write_sidecar


def _settings(ctx: click.Context) -> Settings:
    from plugin.cli import _settings as load

    return load(ctx)


@click.command("writeback")
@click.option("--dry-run", is_flag=True, help="Say which sidecars would change, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts (and failures) as JSON.")
@click.pass_context
def writeback(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Write tags, people and places into XMP sidecars (IMG_1234.jpg.xmp) that digiKam, darktable, Immich and
    PhotoPrism read. Sidecars are merged: fields piccl does not own are kept; only changed files are written."""
    settings = _settings(ctx)
    sessions = open_database(settings.resolved_database_url)
    counts: Counter[str] = Counter()
    failures: list[dict[str, str]] = []
    with sessions() as session:
        libraries = [(lib.id, Path(lib.root))
                     for lib in session.scalars(select(Library).where(Library.kind == "local"))]
    for library_id, root in libraries:
        after = 0
        while True:
            with sessions() as session:
                photos = photos_to_write(session, library_id, after)
                work = [(p.relpath, sidecar_content(p, settings.tags.mapping)) for p in photos]
            if not photos:
                break
            after = photos[-1].id
            for relpath, content in work:
                try:
                    photo = inside_library(root, relpath)
                    if dry_run:
                        path = sidecar_path(photo, settings.xmp.naming)
                        exists = path.is_file()
                        if not exists and not (content.subjects or content.regions or content.place):
                            counts["nothing to write"] += 1
                            continue
                        data, _ = merged_sidecar(path if exists else None, content)
                        changed = not exists or path.read_bytes() != data
                        counts["would write" if changed else "unchanged"] += 1
                        continue
                    result = write_sidecar(photo, content, settings.xmp.naming)
                except (SidecarError, UnsafePath, OSError) as exc:
                    counts["failed"] += 1
                    failures.append({"photo": relpath, "reason": str(exc) if not isinstance(exc, OSError)
                                     else f"{type(exc).__name__}: {exc.strerror or exc}"})
                    continue
                counts["created" if result.created else "updated" if result.changed
                       else "unchanged" if result.path.exists() else "nothing to write"] += 1
    if as_json:
        click.echo(json.dumps({"counts": dict(counts), "failures": failures}, indent=2))
        return
    click.echo(", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "no photos to write back")
    for failure in failures[:20]:
        click.echo(f"  {failure['photo']}: {failure['reason']}", err=True)
