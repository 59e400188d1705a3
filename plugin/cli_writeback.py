"""``piccl writeback``: write piccl's tags, people and places into XMP sidecars beside the photos, now."""

from __future__ import annotations

import json

import click

from plugin.config import Settings
from plugin.store.db import open_database
from plugin.writeback.run import write_back


def _settings(ctx: click.Context) -> Settings:
    from plugin.cli import _settings as load

    return load(ctx)


@click.command("writeback")
@click.option("--dry-run", is_flag=True, help="Say what would change, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts (and failures) as JSON.")
@click.pass_context
def writeback(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Write tags, people and places back now, retrying failed ones: into XMP sidecars (IMG_1234.jpg.xmp) that
    digiKam, darktable, Immich and PhotoPrism read, beside local and WebDAV photos, and, when
    webdav.nextcloud_tags is on, as Nextcloud collaborative tags. Sidecars are merged: fields piccl does not own
    are kept; only what changed is written. While watching, this runs every xmp.interval_min minutes."""
    settings = _settings(ctx)
    reports = write_back(open_database(settings.resolved_database_url), settings, retry_failed=True,
                         dry_run=dry_run)
    if as_json:
        click.echo(json.dumps({target: report.as_dict() for target, report in reports.items()}, indent=2))
        return
    for target, report in reports.items():
        label = "sidecars" if target == "sidecars" else "Nextcloud tags"
        counts = ", ".join(f"{n} {what}" for what, n in sorted(report.counts.items())) or "no photos to write back"
        click.echo(f"{label}: {counts}")
        for failure in report.failures[:20]:
            click.echo(f"  {failure['photo']}: {failure['reason']}", err=True)
