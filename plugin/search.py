"""Find photos: by what is in them (the photo_tags index), and from the search box (tags, people, places,
dates and file names in one line)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from plugin.inference.yolox import COCO_CLASSES
from plugin.scenes import SCENES
from plugin.store.db import holds_nul
from plugin.store.models import Face, Library, Person, Photo, PhotoTag, readable_in_library
from plugin.tagging import PICCL_TAGS


def tagged(tags: Sequence[str], scene: str | None = None) -> Select[tuple[Photo, Library]]:
    """Photos (present, not trashed) that have every one of ``tags`` (a PICCL tag or a COCO class) and ``scene``."""
    query = (select(Photo, Library).join(Library, Photo.library_id == Library.id)
             .where(Photo.gone_at.is_(None), Photo.trashed_at.is_(None)))
    wanted = [(None, tag.strip().lower()) for tag in tags if tag.strip()]
    if scene:
        wanted.append(("scene", scene.strip().lower()))
    for kind, tag in wanted:
        # One EXISTS per term: each is an index range scan on (tag, photo_id).
        condition = (PhotoTag.photo_id == Photo.id) & (PhotoTag.tag == tag)
        if kind is not None:
            condition &= PhotoTag.kind == kind
        else:
            condition &= PhotoTag.kind != "scene"
        query = query.where(select(PhotoTag.id).where(condition).exists())
    return query.order_by(Photo.taken_at.desc().nulls_last(), Photo.id.desc())  # undated last, as SQLite does


def find_photos(session: Session, tags: Sequence[str], scene: str | None = None,
                limit: int | None = None) -> Iterator[Any]:
    query = tagged(tags, scene).options(selectinload(Photo.tags))
    if limit:
        query = query.limit(limit)
    yield from session.execute(query.execution_options(yield_per=500))  # rows unpack as (photo, library)


def tag_counts(session: Session) -> dict[tuple[str, str], int]:
    """(kind, tag) -> number of present photos with it."""
    rows = session.execute(
        select(PhotoTag.kind, PhotoTag.tag, func.count()).join(Photo, PhotoTag.photo_id == Photo.id)
        .where(Photo.gone_at.is_(None), Photo.trashed_at.is_(None))
        .group_by(PhotoTag.kind, PhotoTag.tag))
    return {(kind, tag): count for kind, tag, count in rows}


# -- the search box ------------------------------------------------------------------------------
#
# One line of words ("dog 2023 Lisbon", "Anna beach aug 2022", "IMG_12") is read term by term: a date (a
# year, a month, a day, a range), a person's name, a place (city, region, country), a tag (PICCL tag,
# COCO class, scene), else a piece of a file name. Names of several words are matched whole, longest
# first ("New York", "Barack Obama"); a word that could be two things (a person and a place) matches
# either. Every term must hold.

MONTHS = {name: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for name in names}
_MAX_WORDS_IN_NAME = 4
MAX_WORDS = 20  # words read from one search line; the page says when more were given


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """What names mean in this library: lower-cased name -> the stored values it stands for."""

    tags: frozenset[str]
    people: dict[str, tuple[int, ...]]  # name -> person ids
    places: dict[str, tuple[str, ...]]  # city, region or country -> the stored spellings


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # as the user wrote it
    kinds: tuple[str, ...]  # what it was read as: date, person, place, tag, file
    start: datetime | None = None  # date terms: [start, end)
    end: datetime | None = None
    person_ids: tuple[int, ...] = ()
    places: tuple[str, ...] = ()
    tag: str | None = None


def vocabulary(session: Session) -> Vocabulary:
    """The names a query can use (read once per query, or cached by the caller)."""
    # Tags come from fixed vocabularies (no need to read 300,000 tag rows for them); "other" is no scene to find.
    tags = frozenset(t for t in (*PICCL_TAGS, *COCO_CLASSES, *SCENES) if t != "other")
    people: dict[str, list[int]] = {}
    for pid, name in session.execute(select(Person.id, Person.name).where(Person.name.is_not(None))):
        people.setdefault(name.strip().lower(), []).append(pid)
    places: dict[str, set[str]] = {}
    rows = session.execute(select(Photo.place_city, Photo.place_region, Photo.place_country)
                           .where(Photo.place_country.is_not(None)).distinct())
    for row in rows:
        for value in row:
            if value:
                places.setdefault(value.lower(), set()).add(value)
    return Vocabulary(tags, {k: tuple(v) for k, v in people.items()}, {k: tuple(sorted(v)) for k, v in places.items()})


def parse_query(text: str, vocab: Vocabulary) -> list[Term]:
    """The terms of a search line, each with what it was read as."""
    words = _words(text)
    terms: list[Term] = []
    i = 0
    while i < len(words):
        date, used = _date_at(words, i)
        if date is not None:
            terms.append(date)
            i += used
            continue
        for n in range(min(_MAX_WORDS_IN_NAME, len(words) - i), 0, -1):
            phrase = " ".join(words[i:i + n])
            term = _named(phrase, vocab)
            if term is not None:
                terms.append(term)
                i += n
                break
        else:
            terms.append(Term(words[i], ("file",)))
            i += 1
    return terms


def _words(text: str) -> list[str]:
    # "quoted phrases" stay one word; the rest splits on spaces and commas.
    found = re.findall(r'"([^"]+)"|([^\s,]+)', text)
    return [quoted.strip() or plain for quoted, plain in found if (quoted.strip() or plain)][:MAX_WORDS]


def _named(phrase: str, vocab: Vocabulary) -> Term | None:
    key = phrase.lower()
    people = vocab.people.get(key, ())
    places = vocab.places.get(key, ())
    tag = key if key in vocab.tags else None
    kinds = tuple(k for k, hit in (("person", people), ("place", places), ("tag", tag)) if hit)
    if not kinds:
        return None
    return Term(phrase, kinds, person_ids=people, places=places, tag=tag)


def _date_at(words: list[str], i: int) -> tuple[Term | None, int]:
    """A date starting at words[i]: (term, words used), or (None, 0)."""
    one, used = _single_date_at(words, i)
    if one is None:
        return None, 0
    # "2023-08-14 to 2023-08-20", "aug 2023 - sep 2023": two dates around a separator are one range.
    if i + used + 1 < len(words) and words[i + used].lower() in _RANGE_WORDS:
        last, more = _single_date_at(words, i + used + 1)
        if last is not None:
            text = " ".join(words[i:i + used + 1 + more])
            return Term(text, ("date",), min(one[0], last[0]), max(one[1], last[1])), used + 1 + more
    return Term(" ".join(words[i:i + used]), ("date",), one[0], one[1]), used


_RANGE_WORDS = frozenset({"-", "–", "..", "to"})


def _single_date_at(words: list[str], i: int) -> tuple[tuple[datetime, datetime] | None, int]:
    """One date (or a range written as one word) at words[i]: ([start, end), words used)."""
    word = words[i].lower()
    nxt = words[i + 1].lower() if i + 1 < len(words) else ""
    for month_word, year_word in ((word, nxt), (nxt, word)):  # "aug 2023", "2023 aug"
        if month_word in MONTHS and re.fullmatch(r"\d{4}", year_word) and _year_ok(int(year_word)):
            start = datetime(int(year_word), MONTHS[month_word], 1)
            return (start, _next_month(start)), 2
    span = re.fullmatch(r"(\d{4}(?:-\d{1,2}(?:-\d{1,2})?)?)(?:\.\.|-|–|to)(\d{4}(?:-\d{1,2}(?:-\d{1,2})?)?)", word)
    if span and (first := _one_date(span.group(1))) and (last := _one_date(span.group(2))):
        return (min(first[0], last[0]), max(first[1], last[1])), 1  # a reversed range means the same span
    one = _one_date(word)
    return (one, 1) if one is not None else (None, 0)


def _year_ok(year: int) -> bool:
    return 1800 <= year <= 2200


def _one_date(text: str) -> tuple[datetime, datetime] | None:
    """[start, end) of a year (2023), a month (2023-08) or a day (2023-08-14); None for anything else."""
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", text)
    if not match:
        return None
    year = int(match.group(1))
    if not _year_ok(year):
        return None
    try:
        if match.group(3):
            start = datetime(year, int(match.group(2)), int(match.group(3)))
            return start, start + timedelta(days=1)
        if match.group(2):
            start = datetime(year, int(match.group(2)), 1)
            return start, _next_month(start)
    except ValueError:
        return None
    return datetime(year, 1, 1), datetime(year + 1, 1, 1)


def _next_month(start: datetime) -> datetime:
    return datetime(start.year + (start.month == 12), start.month % 12 + 1, 1)


def term_condition(term: Term, dense: bool = False, direct_files: bool = False) -> ColumnElement[bool]:
    """What a photo must satisfy for ``term`` (any of the things the term was read as).

    ``dense``: the search matches many photos. Then every condition is checked on the photo (the newest
    matches come first along the date index, found at once); otherwise people, tags and file names are
    IN (subquery): the database builds the small set of matching ids once and sorts only those.
    ``direct_files``: file names are matched on the photo even when not dense (counting: a LIKE over every
    path costs the same either way, and this way a broad word stops at the cap).
    """
    options: list[ColumnElement[bool]] = []
    if "date" in term.kinds:
        assert term.start is not None and term.end is not None
        options.append(and_(Photo.taken_at >= term.start, Photo.taken_at < term.end))
    # People, tags and file names are IN (subquery): the database builds the set of matching photo ids once,
    # instead of probing per photo (measured: a correlated EXISTS on faces took 135 ms at 100,000 photos).
    if "person" in term.kinds:
        faces = select(Face.photo_id).where(Face.person_id.in_(term.person_ids), Face.not_a_face.is_(False))
        options.append(faces.where(Face.photo_id == Photo.id).exists() if dense else Photo.id.in_(faces))
    if "place" in term.kinds:
        named = aliased(Photo)
        in_place = or_(named.place_city.in_(term.places), named.place_region.in_(term.places),
                       named.place_country.in_(term.places))
        options.append(or_(Photo.place_city.in_(term.places), Photo.place_region.in_(term.places),
                           Photo.place_country.in_(term.places)) if dense
                       else Photo.id.in_(select(named.id).where(in_place)))
    if "tag" in term.kinds:
        tagged_ids = select(PhotoTag.photo_id).where(PhotoTag.tag == term.tag)
        options.append(tagged_ids.where(PhotoTag.photo_id == Photo.id).exists() if dense else Photo.id.in_(tagged_ids))
    if "file" in term.kinds and holds_nul(term.text):
        options.append(false())  # no path holds a NUL, and PostgreSQL refuses one in a LIKE pattern
    elif "file" in term.kinds:
        pattern = "%" + term.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if dense or direct_files:
            options.append(func.lower(Photo.relpath).like(pattern, escape="\\"))
        else:
            named = aliased(Photo)
            options.append(Photo.id.in_(select(named.id).where(func.lower(named.relpath).like(pattern, escape="\\"))))
    return or_(*options)


def search_condition(terms: Sequence[Term], dense: bool = False, direct_files: bool = False) -> ColumnElement[bool]:
    """Every term holds, on photos in the library (readable, not gone, not trashed)."""
    return and_(readable_in_library(), *(term_condition(t, dense, direct_files) for t in terms))


def capped_count(session: Session, terms: Sequence[Term], cap: int = 1000) -> int:
    """How many photos match, counting no further than ``cap`` + 1 (an exact count of a broad search costs
    a scan of the whole library; "1,000+" says enough)."""
    matching = select(Photo.id).where(search_condition(terms, direct_files=True)).limit(cap + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(matching)) or 0)
