"""The search box and the timeline: every library at once.

Search reads one line ("dog 2023 Lisbon") into terms (see plugin.search) and shows how it read each one,
so a word taken for a file name instead of a place is visible. The timeline is the whole collection by
month, newest first.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import extract, func, select

from plugin.search import (
    MAX_WORDS,
    Term,
    Vocabulary,
    capped_count,
    parse_query,
    search_condition,
    vocabulary,
)
from plugin.store.models import Photo, readable_in_library
from webui import queries
from webui.extensions import db, services
from webui.review import cursor_arg

bp = Blueprint("search", __name__)

MAX_QUERY = 200
COUNT_CAP = 1000
_KIND_LABELS = {"date": "date", "person": "person", "place": "place", "tag": "tag", "file": "file name"}


def _vocabulary() -> Vocabulary:
    # Names change only with scans and the People pages: reading them once every 30 s is plenty.
    return queries.library_cache.get(("vocabulary",), lambda: vocabulary(db()))


def _terms() -> tuple[str, list[Term]]:
    text = (request.args.get("q") or "").strip()[:MAX_QUERY]
    return text, parse_query(text, _vocabulary()) if text else []


def search_page(terms: list[Term], cursor: int | None) -> tuple[queries.Page, int]:
    """A page of matches, newest first, and how many match (at most COUNT_CAP + 1)."""
    total = capped_count(db(), terms, COUNT_CAP)
    # A broad search walks the date index and stops at a page; a narrow one sorts its few matches.
    query = select(Photo.id, Photo.relpath, Photo.content_hash, Photo.taken_at).where(
        search_condition(terms, dense=total > COUNT_CAP))
    return queries.newest_first_page(db(), query, cursor, services().settings.ui.page_size), total


@bp.get("/search")
def search() -> ResponseReturnValue:
    text, terms = _terms()
    page, total = search_page(terms, cursor_arg()) if terms else (None, 0)
    more = url_for("search.tiles", q=text, cursor=page.next_cursor) if page else None
    chips = [(t.text, " or ".join(_KIND_LABELS[k] for k in t.kinds)) for t in terms]
    shown = f"{COUNT_CAP:,}+ photos" if total > COUNT_CAP else f"{total} photo{'' if total == 1 else 's'}"
    return render_template("search.html", q=text, chips=chips, page=page, shown=shown, more_url=more,
                           cut=len(text.split()) > MAX_WORDS)


@bp.get("/search/tiles")
def tiles() -> ResponseReturnValue:
    text, terms = _terms()
    if not terms:
        abort(404)
    page, _ = search_page(terms, cursor_arg())
    return render_template("_tiles.html", page=page, more_url=url_for("search.tiles", q=text, cursor=page.next_cursor))


def month_buckets() -> list[tuple[int, int, int]]:
    """(year, month, photos) over every library, newest first; undated photos are left out."""
    def compute() -> list[tuple[int, int, int]]:
        year, month = extract("year", Photo.taken_at), extract("month", Photo.taken_at)
        query = (select(year, month, func.count()).where(readable_in_library(), Photo.taken_at.is_not(None))
                 .group_by(year, month).order_by(year.desc(), month.desc()))
        return [(int(y), int(m), int(n)) for y, m, n in db().execute(query).all()]
    return queries.library_cache.get(("timeline",), compute)


# The ways into the collection, in the order a family looks: (label, endpoint, what it shows).
BROWSE = (
    ("Timeline", "search.timeline", "every photo by month"),
    ("Albums", "albums.index", "your albums and favourites"),
    ("Places", "places.index", "countries and cities, from the photos' GPS"),
    ("Events", "places.events", "days out and trips, by time and place"),
    ("Tags", "tags.index", "what is in the photos: the nine PICCL tags, scenes, objects"),
    ("Folders", "library.index", "the library as it is on disk"),
)


@bp.get("/browse")
def browse() -> ResponseReturnValue:
    entries = [(label, url_for(endpoint), hint) for label, endpoint, hint in BROWSE
               if endpoint in current_app.view_functions]
    return render_template("browse.html", entries=entries)


@bp.get("/timeline")
def timeline() -> ResponseReturnValue:
    years: dict[int, list[tuple[int, int]]] = {}
    for year, month, n in month_buckets():
        years.setdefault(year, []).append((month, n))
    return render_template("timeline.html", years=years)


def _month_range(year: int, month: int) -> tuple[datetime, datetime]:
    if not (1 <= month <= 12 and 1800 <= year <= 2200):
        abort(404)
    return datetime(year, month, 1), datetime(year + (month == 12), month % 12 + 1, 1)


def timeline_page(year: int, month: int, cursor: int | None) -> queries.Page:
    start, end = _month_range(year, month)
    query = select(Photo.id, Photo.relpath, Photo.content_hash, Photo.taken_at).where(
        readable_in_library(), Photo.taken_at >= start, Photo.taken_at < end)
    return queries.newest_first_page(db(), query, cursor, services().settings.ui.page_size)


@bp.get("/timeline/<int:year>/<int:month>")
def month(year: int, month: int) -> ResponseReturnValue:
    page = timeline_page(year, month, cursor_arg())
    more = url_for("search.month_tiles", year=year, month=month, cursor=page.next_cursor)
    return render_template("timeline_month.html", year=year, month=month, page=page, more_url=more)


@bp.get("/timeline/<int:year>/<int:month>/tiles")
def month_tiles(year: int, month: int) -> ResponseReturnValue:
    page = timeline_page(year, month, cursor_arg())
    return render_template("_tiles.html", page=page,
                           more_url=url_for("search.month_tiles", year=year, month=month, cursor=page.next_cursor))
