"""``piccl groups`` (find duplicates, bursts and similar shots; list them; choose a keeper) and ``piccl gif``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.config import Settings
from plugin.grouping.animation import FORMATS, AnimationError, make_animation
from plugin.grouping.service import GroupError, export_groups, group_photos, set_keeper
from plugin.store.db import open_database
from plugin.store.models import Library, Photo, PhotoGroupMember


def _settings(ctx: click.Context) -> Settings:
    from plugin.cli import _settings as load

    return load(ctx)


@click.group("groups", invoke_without_command=True)
@click.option("--method", type=click.Choice(["default", "piccl2021"]), default=None,
              help="Grouping method (default: the 'similar.method' setting).")
@click.option("--json", "as_json", is_flag=True, help="Print the groups as JSON.")
@click.option("--list/--no-list", "show", default=True, help="List the groups after finding them.")
@click.pass_context
def groups(ctx: click.Context, method: str | None, as_json: bool, show: bool) -> None:
    """Find copies, edits, bursts and similar shots now, keep the best of each, and list the groups."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(ctx)
    sessions = open_database(settings.resolved_database_url)
    report = group_photos(sessions, settings.similar, method)
    with sessions() as session:
        found = export_groups(session) if show or as_json else []
    if as_json:
        click.echo(json.dumps({"report": report.as_dict(), "groups": found}, indent=2))
        return
    kinds = ", ".join(f"{n} {kind.replace('_', '-')}" for kind, n in sorted(report.groups.items())) or "none"
    click.echo(f"{report.photos} photos ({report.method}): groups {kinds}; "
               f"{report.recommended} photos recommended for deletion ({report.seconds:.1f} s)")
    if not found:
        return
    # Plain lines, not a table: paths are long, and the output is read in narrow terminals and piped.
    for group in found:
        click.echo(f"\ngroup {group['id']} ({group['kind'].replace('_', '-')}): keep {group['keeper']} "
                   f"({group['reason']})")
        for member in group["members"]:
            if member["photo_id"] != group["keeper_id"]:
                click.echo(f"  delete? {member['path']} ({member['relation']})")


@groups.command("keep")
@click.argument("group_id", type=int)
@click.argument("photo_id", type=int, required=False)
@click.pass_context
def groups_keep(ctx: click.Context, group_id: int, photo_id: int | None) -> None:
    """Keep PHOTO_ID in GROUP_ID instead of piccl's choice (without PHOTO_ID: let piccl choose again)."""
    settings = _settings(ctx)
    try:
        group = set_keeper(open_database(settings.resolved_database_url), group_id, photo_id)
    except GroupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"group {group.id}: keeping photo {group.keeper_photo_id} ({group.keeper_reason})")


def _photo_ids(session: Session, refs: tuple[str, ...]) -> list[int]:
    """Photo ids from ids or paths (absolute, or relative to a library root when only one library has it)."""
    roots = [(lib.id, Path(lib.root)) for lib in session.scalars(select(Library))]
    ids = []
    for ref in refs:
        if ref.isdigit():
            ids.append(int(ref))
            continue
        path = Path(ref).resolve()
        # The deepest root first: with nested libraries, the photo belongs to the inner one.
        found = next((pid for library_id, root in sorted(roots, key=lambda r: -len(r[1].parts))
                      if path.is_relative_to(root) and (pid := session.scalar(select(Photo.id).where(
                          Photo.library_id == library_id, Photo.relpath == path.relative_to(root).as_posix())))),
                     None)
        if found is None:
            matches = session.scalars(select(Photo.id).where(Photo.relpath == ref).limit(2)).all()
            if len(matches) > 1:
                raise click.ClickException(f"{ref}: in several libraries; give the full path")
            found = matches[0] if matches else None
        if found is None:
            raise click.ClickException(f"{ref}: not a photo piccl knows (scan its library first)")
        ids.append(found)
    return ids


@click.command("gif")
@click.argument("photos", nargs=-1)
@click.option("--group", "group_id", type=int, help="Use the photos of this group.")
@click.option("--size", type=click.IntRange(64, 2048), help="Long side in pixels (default: gif.size).")
@click.option("--fps", type=click.FloatRange(0.1, 30), help="Frames per second (default: gif.fps).")
@click.option("--format", "formats", type=click.Choice(FORMATS), multiple=True,
              help="Formats to write (default: both).")
@click.pass_context
def gif(ctx: click.Context, photos: tuple[str, ...], group_id: int | None, size: int | None, fps: float | None,
        formats: tuple[str, ...]) -> None:
    """Make an animated GIF and WebP from a group (--group ID) or from PHOTOS (ids or paths), in capture order.

    Saved in the library's gif folder (gif.folder, default 'piccl-gifs'); no file is ever overwritten.
    """
    settings = _settings(ctx)
    sessions = open_database(settings.resolved_database_url)
    with sessions() as session:
        ids = _photo_ids(session, photos)
        if group_id is not None:
            members = session.scalars(select(PhotoGroupMember.photo_id)
                                      .where(PhotoGroupMember.group_id == group_id)).all()
            if not members:
                raise click.ClickException(f"no group {group_id}")
            ids += members
    if len(ids) < 2:
        raise click.ClickException("give a --group or at least two photos")
    gif_settings = settings.gif.model_copy(update={k: v for k, v in (("size", size), ("fps", fps)) if v})
    try:
        made = make_animation(sessions, ids, gif_settings, formats or FORMATS, settings.max_image_pixels)
    except AnimationError as exc:
        raise click.ClickException(str(exc)) from None
    for path in made.paths:
        click.echo(path)
    for photo_id, why in made.skipped.items():
        click.echo(f"skipped photo {photo_id}: {why}", err=True)
