"""``piccl people`` (list, name, merge, hide) and ``piccl faces`` (cluster): people from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from plugin.config import Settings
from plugin.people.service import PeopleError, cluster_faces, hide_person, list_people, merge_people, name_person
from plugin.store.db import open_database
from plugin.store.models import Person


def _settings(ctx: click.Context) -> Settings:
    from plugin.cli import _settings as load

    return load(ctx)


def embed_model_of(settings: Settings) -> str | None:
    from plugin.inference.models import resolve_face_models

    return resolve_face_models(settings).embed_model


@click.group()
def people() -> None:
    """List, name, merge and hide people (the faces piccl grouped)."""


@people.command("list")
@click.option("--all", "include_hidden", is_flag=True, help="Include hidden people.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def people_list(ctx: click.Context, include_hidden: bool, as_json: bool) -> None:
    """People, unnamed ones first (largest first: the ones worth naming), then by name."""
    sessions = open_database(_settings(ctx).resolved_database_url)
    with sessions() as session:
        rows = [{"id": p.id, "name": p.name, "faces": p.face_count, "photos": p.photo_count, "hidden": p.hidden}
                for p in list_people(session, include_hidden)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        Console().print("no people yet: scan a library, then `piccl faces cluster`")
        return
    table = Table("id", "name", "faces", "photos", "hidden", box=None)
    for row in rows:
        table.add_row(str(row["id"]), row["name"] or "[dim](unnamed)[/]", str(row["faces"]), str(row["photos"]),
                      "yes" if row["hidden"] else "")
    Console().print(table)


def _apply(ctx: click.Context, action: str, fn: Callable[..., Person], *args: Any) -> None:
    sessions = open_database(_settings(ctx).resolved_database_url)
    with sessions() as session:
        try:
            person = fn(session, *args)
        except PeopleError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        click.echo(f"{action}: person {person.id} {person.name or '(unnamed)'}, {person.face_count} faces, "
                   f"{person.photo_count} photos")


@people.command("name")
@click.argument("person_id", type=int)
@click.argument("name", nargs=-1, required=True)
@click.pass_context
def people_name(ctx: click.Context, person_id: int, name: tuple[str, ...]) -> None:
    """Name (or rename) PERSON_ID."""
    _apply(ctx, "named", name_person, person_id, " ".join(name))


@people.command("merge")
@click.argument("target_id", type=int)
@click.argument("source_ids", type=int, nargs=-1, required=True)
@click.pass_context
def people_merge(ctx: click.Context, target_id: int, source_ids: tuple[int, ...]) -> None:
    """Merge SOURCE_IDS into TARGET_ID (their faces move; the sources go)."""
    _apply(ctx, "merged", merge_people, list(source_ids), target_id)


@people.command("hide")
@click.argument("person_id", type=int)
@click.option("--show", is_flag=True, help="Show a hidden person again.")
@click.pass_context
def people_hide(ctx: click.Context, person_id: int, show: bool) -> None:
    """Hide PERSON_ID from the People page (or show again with --show)."""
    _apply(ctx, "shown" if show else "hidden", hide_person, person_id, not show)


@click.group()
def faces() -> None:
    """Faces: re-cluster them into people."""


@faces.command("cluster")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def faces_cluster(ctx: click.Context, as_json: bool) -> None:
    """Re-cluster now: unassigned faces join people or form new ones; the user's corrections stay."""
    settings = _settings(ctx)
    report = cluster_faces(open_database(settings.resolved_database_url), settings.faces, embed_model_of(settings))
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(f"{report.faces} faces: {report.new_people} new people, {report.assigned} faces assigned, "
               f"{report.released} let go, {report.merged} merged; {report.people_after} people, "
               f"{report.unassigned} faces unassigned ({report.seconds:.1f} s)")
