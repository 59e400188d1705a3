"""``piccl albums``: the user's albums and favourites from the command line (the same service as the UI).

Albums are named, not numbered, here: a name is what a person types and remembers, and names are unique
whatever their case. Photos are ids or paths, as for ``piccl gif``.
"""

from __future__ import annotations

import json

import click
from sqlalchemy.orm import Session

from plugin.albums import (
    AlbumNotFound,
    NameRefused,
    PhotoChange,
    add_photos,
    album_named,
    create_album,
    delete_album,
    favorites_summary,
    find_album,
    list_albums,
    remove_photos,
    rename_album,
    set_favorite,
)
from plugin.cli_groups import _photo_ids
from plugin.store.db import open_database
from plugin.store.models import Album


def _session(ctx: click.Context) -> Session:
    from plugin.cli import _settings

    return open_database(_settings(ctx).resolved_database_url)()


def _album(session: Session, name: str) -> Album:
    album = find_album(session, name)
    if album is None:
        raise click.ClickException(AlbumNotFound(name).message)
    return album


def _refused(result: NameRefused | AlbumNotFound) -> click.ClickException:
    return click.ClickException(result.message)


def _plural(n: int) -> str:
    return f"{n} photo{'' if n == 1 else 's'}"


def _report(change: PhotoChange, verb: str, already: str) -> None:
    click.echo(f"{change.album_name}: {verb} {_plural(len(change.done))}"
               + (f", {len(change.unchanged)} {already}" if change.unchanged else ""))
    for photo_id, why in change.skipped.items():
        click.echo(f"skipped photo {photo_id}: {why.replace('_', ' ')}", err=True)


@click.group("albums", invoke_without_command=True)
@click.pass_context
def albums(ctx: click.Context) -> None:
    """Your albums and favourites (without a command: list them)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(albums_list)


@albums.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
@click.pass_context
def albums_list(ctx: click.Context, as_json: bool = False) -> None:
    """The favourites, then each album by name, with the photos in the library now."""
    with _session(ctx) as session:
        favorites, found = favorites_summary(session), list_albums(session)
    if as_json:
        click.echo(json.dumps({
            "favorites": {"photos": favorites.count, "cover_photo_id": favorites.cover_photo_id},
            "albums": [{"id": a.id, "name": a.name, "photos": a.count, "cover_photo_id": a.cover_photo_id,
                        "updated_at": a.updated_at.isoformat() if a.updated_at else None} for a in found],
        }, indent=2, ensure_ascii=False))
        return
    click.echo(f"{favorites.name} ({_plural(favorites.count)})")
    for album in found:
        click.echo(f"{album.name} ({_plural(album.count)})")


@albums.command("create")
@click.argument("name", nargs=-1, required=True)
@click.pass_context
def albums_create(ctx: click.Context, name: tuple[str, ...]) -> None:
    """Make an empty album called NAME."""
    with _session(ctx) as session:
        made = create_album(session, " ".join(name))
        if not isinstance(made, Album):
            raise _refused(made)
        click.echo(f"made album {made.name}")


@albums.command("add")
@click.argument("album")
@click.argument("photos", nargs=-1, required=True)
@click.pass_context
def albums_add(ctx: click.Context, album: str, photos: tuple[str, ...]) -> None:
    """Add PHOTOS (ids or paths) to ALBUM, which is made when there is none of that name."""
    with _session(ctx) as session:
        ids = _photo_ids(session, photos)
        found = album_named(session, album)
        if isinstance(found, NameRefused):
            raise _refused(found)
        target, made = found
        if made:
            click.echo(f"made album {target.name}")
        change = add_photos(session, target.id, ids)
        assert isinstance(change, PhotoChange)  # the album was just found
        _report(change, "added", "already in it")


@albums.command("remove")
@click.argument("album")
@click.argument("photos", nargs=-1, required=True)
@click.pass_context
def albums_remove(ctx: click.Context, album: str, photos: tuple[str, ...]) -> None:
    """Take PHOTOS (ids or paths) out of ALBUM; their files stay where they are."""
    with _session(ctx) as session:
        ids = _photo_ids(session, photos)
        change = remove_photos(session, _album(session, album).id, ids)
        if isinstance(change, AlbumNotFound):
            raise _refused(change)
        _report(change, "took out", "not in it")


@albums.command("rename")
@click.argument("album")
@click.argument("new_name", nargs=-1, required=True)
@click.pass_context
def albums_rename(ctx: click.Context, album: str, new_name: tuple[str, ...]) -> None:
    """Rename ALBUM to NEW_NAME."""
    with _session(ctx) as session:
        target = _album(session, album)
        was = target.name
        renamed = rename_album(session, target.id, " ".join(new_name))
        if not isinstance(renamed, Album):
            raise _refused(renamed)
        click.echo(f"renamed {was} to {renamed.name}")


@albums.command("delete")
@click.argument("album")
@click.pass_context
def albums_delete(ctx: click.Context, album: str) -> None:
    """Delete ALBUM; its photos stay in the library (and in other albums)."""
    with _session(ctx) as session:
        deleted = delete_album(session, _album(session, album).id)
        if isinstance(deleted, AlbumNotFound):
            raise _refused(deleted)
        click.echo(f"deleted album {deleted.name}; its {_plural(deleted.photos)} stay in the library")


@albums.command("favorite")
@click.argument("photos", nargs=-1, required=True)
@click.option("--off", is_flag=True, help="Take the heart off instead.")
@click.pass_context
def albums_favorite(ctx: click.Context, photos: tuple[str, ...], off: bool) -> None:
    """Heart PHOTOS (ids or paths): they show in Favourites; --off takes the heart off."""
    with _session(ctx) as session:
        change = set_favorite(session, _photo_ids(session, photos), not off)
        _report(change, "unhearted" if off else "hearted", "already so")
