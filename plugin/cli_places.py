"""``piccl places`` (geocode the photos that need it, list countries and cities) and ``piccl events``."""

from __future__ import annotations

import json

import click

from plugin.config import Settings
from plugin.store.db import open_database


def _photos(n: int) -> str:
    return f"{n} photo{'' if n == 1 else 's'}"


def _settings(ctx: click.Context) -> Settings:
    from plugin.cli import _settings as load

    return load(ctx)


@click.command("places")
@click.option("--json", "as_json", is_flag=True, help="Print the report and the places as JSON.")
@click.pass_context
def places(ctx: click.Context, as_json: bool) -> None:
    """Give the photos that need one their place (offline, from their GPS), then list countries and cities."""
    from plugin.places.browse import cities, countries
    from plugin.places.service import assign_places

    settings = _settings(ctx)
    sessions = open_database(settings.resolved_database_url)
    report = assign_places(sessions, settings.places)
    with sessions() as session:
        found = [(country, cities(session, country.code)) for country in countries(session)]
    if as_json:
        click.echo(json.dumps({"report": report.as_dict(), "countries": [
            {"country_code": c.code, "country": c.name, "photos": c.photos, "cities": [
                {"city": city.city, "region": city.region, "photos": city.photos} for city in its_cities]}
            for c, its_cities in found]}, indent=2, ensure_ascii=False))
        return
    if report.problem:
        raise click.ClickException(report.problem)
    click.echo(f"{report.checked} photos looked up: {report.placed} placed, {report.no_gps} without GPS, "
               f"{report.too_far} farther than {settings.places.max_distance_km:g} km from any town "
               f"({report.seconds:.1f} s)")
    for country, its_cities in found:
        click.echo(f"\n{country.name} ({country.code}): {_photos(country.photos)}")
        for city in its_cities:
            click.echo(f"  {city.city}{f', {city.region}' if city.region else ''}: {city.photos}")


@click.command("events")
@click.option("--json", "as_json", is_flag=True, help="Print the report and the events as JSON.")
@click.pass_context
def events(ctx: click.Context, as_json: bool) -> None:
    """Recompute the events (photos close in time and place) now, and list them, newest first."""
    from plugin.places.browse import events_newest_first
    from plugin.places.service import compute_events

    settings = _settings(ctx)
    sessions = open_database(settings.resolved_database_url)
    report = compute_events(sessions, settings.places)
    with sessions() as session:
        found = [{"id": e.id, "name": e.name, "place": e.place, "photos": e.size,
                  "start": e.start_at.isoformat(), "end": e.end_at.isoformat(), "cover_photo_id": e.cover_photo_id}
                 for e in events_newest_first(session)]
    if as_json:
        click.echo(json.dumps({"report": report.as_dict(), "events": found}, indent=2, ensure_ascii=False))
        return
    click.echo(f"{report.events} events of {report.photos} photos with a camera date: {report.created} new, "
               f"{report.updated} changed, {report.removed} gone ({report.seconds:.1f} s)")
    for event in found:
        click.echo(f"  {event['id']:>6}  {event['name']}  ({_photos(event['photos'])})")
