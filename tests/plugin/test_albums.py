"""The user's albums and favourites (plugin/albums.py): names, idempotent changes, what albums show, and that
everything outlives a restart and a re-scan.

The service tests run on SQLite and, where PICCL_TEST_POSTGRES_URL is set (.ci/run sets it), on PostgreSQL:
the inserts use each database's ON CONFLICT DO NOTHING, and covers a window function.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from plugin.albums import (
    MAX_NAME,
    AlbumNotFound,
    DeletedAlbum,
    NameRefused,
    PhotoChange,
    add_photos,
    album_by_name,
    album_count,
    album_named,
    clean_name,
    create_album,
    delete_album,
    favorites_summary,
    list_albums,
    photo_albums,
    photos_query,
    remove_photos,
    rename_album,
    set_favorite,
)
from plugin.config import Settings
from plugin.scan import Scanner
from plugin.store.db import open_database
from plugin.store.models import Album, AlbumPhoto, Favorite, Library, Photo, utcnow
from tests.conftest import PhotoFactory, store_on


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> sessionmaker[Session]:
    return store_on(request.param, tmp_path)


def add_photo_rows(sessions: sessionmaker[Session], n: int) -> list[int]:
    """Photos 0..n-1 in one library, taken a day apart (the last is the newest)."""
    with sessions() as session:
        library = Library(root="/photos")
        session.add(library)
        session.flush()
        photos = [Photo(library_id=library.id, relpath=f"p{i}.jpg", size=1000 + i, mtime_ns=0, status="ok",
                        content_hash=f"{i:064x}", taken_at=datetime(2024, 1, 1) + timedelta(days=i))
                  for i in range(n)]
        session.add_all(photos)
        session.commit()
        return [p.id for p in photos]


def made(result: Album | NameRefused | AlbumNotFound) -> Album:
    assert isinstance(result, Album), result
    return result


def changed(result: PhotoChange | AlbumNotFound) -> PhotoChange:
    assert isinstance(result, PhotoChange), result
    return result


def set_photo(sessions: sessionmaker[Session], photo_id: int, **values: object) -> None:
    with sessions() as session:
        photo = session.get(Photo, photo_id)
        assert photo is not None
        for key, value in values.items():
            setattr(photo, key, value)
        session.commit()


# -- names ----------------------------------------------------------------------------------------------------

def test_names_are_trimmed_and_unique_whatever_their_case(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        # GIVEN an album made with stray spaces
        trip = made(create_album(session, "  Summer \t in   Lisbon "))
        # THEN its name is tidied
        assert trip.name == "Summer in Lisbon"
        # WHEN another is made with the same name in other capitals (and a ß the casefold knows)
        again = create_album(session, "SUMMER IN LISBON")
        # THEN it is refused, naming the album that has it
        assert isinstance(again, NameRefused) and again.problem == "taken" and again.album_id == trip.id
        assert "already an album" in again.message
        made(create_album(session, "Straße"))
        assert isinstance(taken := create_album(session, "STRASSE"), NameRefused) and taken.problem == "taken"
        # AND the name finds the album whatever its case and spacing
        assert album_by_name(session, "summer in  lisbon") == trip
        assert session.scalar(select(func.count()).select_from(Album)) == 2


@pytest.mark.parametrize(("name", "problem"), [
    ("", "empty"), ("   \n ", "empty"), ("x" * (MAX_NAME + 1), "too_long"), ("bell\x07", "control"),
    ("Favourites", "reserved"), ("favorites", "reserved"),
])
def test_bad_names_are_refused_with_the_reason(sessions: sessionmaker[Session], name: str, problem: str) -> None:
    with sessions() as session:
        refused = create_album(session, name)
        assert isinstance(refused, NameRefused) and refused.problem == problem and refused.message
        assert session.scalar(select(func.count()).select_from(Album)) == 0


def test_a_name_of_256_characters_and_emoji_is_fine() -> None:
    assert clean_name("x" * MAX_NAME) == "x" * MAX_NAME
    assert clean_name("👨‍👩‍👧 beach") == "👨‍👩‍👧 beach"  # the joiners (format characters) are not control characters


def test_rename_refuses_another_albums_name_but_takes_a_new_case_of_its_own(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        a, b = made(create_album(session, "Garden")), made(create_album(session, "Kids"))
        # WHEN renaming to the other album's name (in lower case): refused, nothing changes
        refused = rename_album(session, a.id, "kids")
        assert isinstance(refused, NameRefused) and refused.problem == "taken" and refused.album_id == b.id
        assert album_by_name(session, "garden") == a and a.name == "Garden"
        # WHEN renaming to its own name in other capitals: that is a rename
        assert made(rename_album(session, a.id, "GARDEN")).name == "GARDEN"
        # AND a second tap of the same rename changes nothing
        assert made(rename_album(session, a.id, " GARDEN ")).name == "GARDEN"
        # AND an album that is not there is said to be so
        assert isinstance(rename_album(session, 999, "x"), AlbumNotFound)


def test_album_named_makes_one_album_however_often_it_is_asked(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        first = album_named(session, "Holiday")
        second = album_named(session, "holiday ")
        assert isinstance(first, tuple) and isinstance(second, tuple)
        assert first[1] is True and second[1] is False and first[0].id == second[0].id
        assert isinstance(album_named(session, ""), NameRefused)


# -- photos in albums -----------------------------------------------------------------------------------------

def test_adding_and_removing_are_idempotent_and_say_what_they_did(sessions: sessionmaker[Session]) -> None:
    ids = add_photo_rows(sessions, 3)
    with sessions() as session:
        album = made(create_album(session, "Best"))
        # WHEN two photos are added, the first twice in one request, and an unknown id
        first = changed(add_photos(session, album.id, [ids[0], ids[1], ids[0], 4242]))
        # THEN each photo is added once and the unknown one is skipped
        assert first.done == [ids[0], ids[1]] and first.unchanged == [] and first.skipped == {4242: "not_found"}
        # WHEN the same tap arrives again (a double tap)
        second = changed(add_photos(session, album.id, [ids[0], ids[1]]))
        # THEN nothing changes, and it says so
        assert second.done == [] and second.unchanged == [ids[0], ids[1]]
        assert session.scalar(select(func.count()).select_from(AlbumPhoto)) == 2
        # WHEN one is removed, twice
        assert changed(remove_photos(session, album.id, [ids[0]])).done == [ids[0]]
        again = changed(remove_photos(session, album.id, [ids[0]]))
        assert again.done == [] and again.unchanged == [ids[0]]
        # THEN the other stays, and the photos themselves are all there
        assert album_count(session, album.id) == 1
        assert session.scalar(select(func.count()).select_from(Photo)) == 3
        # AND an album that is not there is said to be so
        assert isinstance(add_photos(session, 999, ids), AlbumNotFound)
        assert isinstance(remove_photos(session, 999, ids), AlbumNotFound)


def test_a_trashed_photo_stays_in_its_album_but_the_album_shows_only_photos_in_the_library(
        sessions: sessionmaker[Session]) -> None:
    ids = add_photo_rows(sessions, 3)
    with sessions() as session:
        album = made(create_album(session, "Trip"))
        changed(add_photos(session, album.id, ids))
    # GIVEN the newest photo went to the trash and another vanished from the disk
    set_photo(sessions, ids[2], trashed_at=utcnow())
    set_photo(sessions, ids[1], gone_at=utcnow())
    with sessions() as session:
        # THEN their memberships stay, but the album counts and shows only the photo still in the library
        assert session.scalar(select(func.count()).select_from(AlbumPhoto)) == 3
        assert album_count(session, album.id) == 1
        assert [r.id for r in session.execute(photos_query(album.id))] == [ids[0]]
        # AND such photos cannot be added to another album
        other = made(create_album(session, "Other"))
        refused = changed(add_photos(session, other.id, [ids[1], ids[2]]))
        assert refused.done == [] and refused.skipped == {ids[1]: "not_in_library", ids[2]: "not_in_library"}
    # WHEN the trashed photo is restored
    set_photo(sessions, ids[2], trashed_at=None)
    with sessions() as session:
        # THEN it is back in its album
        assert album_count(session, album.id) == 2


def test_albums_are_listed_with_counts_and_the_latest_photo_in_the_library_as_cover(
        sessions: sessionmaker[Session]) -> None:
    ids = add_photo_rows(sessions, 4)
    with sessions() as session:
        kids, garden, _ = (made(create_album(session, n)) for n in ("kids", "Garden", "Empty"))
        changed(add_photos(session, kids.id, [ids[0]]))
        changed(add_photos(session, kids.id, [ids[3]]))  # added last: the cover, though not the newest taken
        changed(add_photos(session, garden.id, [ids[1], ids[2]]))
        # (garden's two were added in one go, at one instant: the higher id decides)
        listed = {a.name: a for a in list_albums(session)}
        # THEN they come by name whatever the case, with their counts and covers
        assert [a.name for a in list_albums(session)] == ["Empty", "Garden", "kids"]
        assert (listed["kids"].count, listed["kids"].cover_photo_id) == (2, ids[3])
        assert listed["kids"].cover_hash == f"{3:064x}"
        assert (listed["Garden"].count, listed["Garden"].cover_photo_id) == (2, max(ids[1], ids[2]))
        assert (listed["Empty"].count, listed["Empty"].cover_photo_id) == (0, None)
        # AND "recent" puts the album changed last first
        assert list_albums(session, "recent")[0].name == "Garden"
    # WHEN the cover photo goes to the trash, the one added before it is the cover
    set_photo(sessions, ids[3], trashed_at=utcnow())
    with sessions() as session:
        kids_now = next(a for a in list_albums(session) if a.name == "kids")
        assert (kids_now.count, kids_now.cover_photo_id) == (1, ids[0])


def test_an_albums_grid_is_newest_taken_first(sessions: sessionmaker[Session]) -> None:
    ids = add_photo_rows(sessions, 3)
    with sessions() as session:
        album = made(create_album(session, "Order"))
        changed(add_photos(session, album.id, [ids[2], ids[0], ids[1]]))
        query = photos_query(album.id).order_by(Photo.taken_at.desc())
        assert [r.id for r in session.execute(query)] == [ids[2], ids[1], ids[0]]


def test_deleting_an_album_never_touches_its_photos(sessions: sessionmaker[Session]) -> None:
    ids = add_photo_rows(sessions, 2)
    with sessions() as session:
        album, other = made(create_album(session, "Doomed")), made(create_album(session, "Stays"))
        changed(add_photos(session, album.id, ids))
        changed(add_photos(session, other.id, ids[:1]))
        set_favorite(session, ids[:1])
        # WHEN the album is deleted
        deleted = delete_album(session, album.id)
        # THEN it says what went, the photos, the other album and the heart are all still there
        assert deleted == DeletedAlbum(album.id, "Doomed", 2)
        assert session.scalar(select(func.count()).select_from(Photo)) == 2
        assert album_count(session, other.id) == 1
        assert favorites_summary(session).count == 1
        assert session.scalar(select(func.count()).select_from(AlbumPhoto)) == 1
        # AND deleting it again (a second tap) finds nothing to delete
        assert isinstance(delete_album(session, album.id), AlbumNotFound)


def test_a_photo_deleted_for_good_leaves_its_albums_and_heart(sessions: sessionmaker[Session]) -> None:
    # GIVEN a photo in an album and hearted, then purged from the trash (its row deleted, as TrashBin.empty does)
    ids = add_photo_rows(sessions, 2)
    with sessions() as session:
        album = made(create_album(session, "A"))
        changed(add_photos(session, album.id, ids))
        set_favorite(session, ids)
        session.delete(session.get(Photo, ids[0]))
        session.commit()
        # THEN its memberships went with it (ON DELETE CASCADE), the album keeps the other
        assert session.scalars(select(AlbumPhoto.photo_id)).all() == [ids[1]]
        assert session.scalars(select(Favorite.photo_id)).all() == [ids[1]]


# -- favourites -----------------------------------------------------------------------------------------------

def test_hearts_are_set_and_taken_off_idempotently(sessions: sessionmaker[Session]) -> None:
    ids = add_photo_rows(sessions, 3)
    set_photo(sessions, ids[2], trashed_at=utcnow())
    with sessions() as session:
        # WHEN two photos are hearted (one twice), a trashed one and an unknown one too
        first = set_favorite(session, [ids[0], ids[1], ids[0], ids[2], 4242])
        assert first.done == [ids[0], ids[1]]
        assert first.skipped == {ids[2]: "not_in_library", 4242: "not_found"}
        # THEN a second tap changes nothing
        assert set_favorite(session, [ids[0]]).unchanged == [ids[0]]
        summary = favorites_summary(session)
        assert summary.id is None and summary.name == "Favourites" and summary.count == 2
        assert summary.cover_photo_id in (ids[0], ids[1])
        # WHEN the heart comes off one, twice
        assert set_favorite(session, [ids[0]], False).done == [ids[0]]
        assert set_favorite(session, [ids[0]], False).unchanged == [ids[0]]
        # THEN one is left, and the photo page's side says which
        assert [r.id for r in session.execute(photos_query(None))] == [ids[1]]
        assert photo_albums(session, ids[1]).favorite and not photo_albums(session, ids[0]).favorite


def test_a_photos_side_lists_its_albums_and_the_others_to_add_it_to(sessions: sessionmaker[Session]) -> None:
    ids = add_photo_rows(sessions, 2)
    with sessions() as session:
        b, a, c = (made(create_album(session, n)) for n in ("b", "a", "c"))
        changed(add_photos(session, b.id, ids[:1]))
        changed(add_photos(session, a.id, ids[:1]))
        changed(add_photos(session, c.id, ids[1:]))
        side = photo_albums(session, ids[0])
        assert side.albums == [(a.id, "a"), (b.id, "b")]
        assert side.choices == [(c.id, "c")]


# -- restarts and re-scans ------------------------------------------------------------------------------------

def test_albums_and_hearts_outlive_a_restart(database_url: str) -> None:
    # GIVEN an album of two photos, one of them with a heart
    first = open_database(database_url)
    ids = add_photo_rows(first, 2)
    with first() as session:
        album = made(create_album(session, "Keepers"))
        changed(add_photos(session, album.id, ids))
        set_favorite(session, ids[1:])
    first.kw["bind"].dispose()
    # WHEN piccl starts again: a new engine and session factory on the same database
    again = open_database(database_url)
    with again() as session:
        # THEN the album, its photos and the heart are there
        [listed] = list_albums(session)
        assert (listed.name, listed.count) == ("Keepers", 2)
        assert favorites_summary(session).count == 1


@pytest.fixture
def scanned(tmp_path: Path, make_photo: PhotoFactory,
            settings_for: Callable[..., Settings]) -> tuple[Path, Settings, sessionmaker[Session]]:
    library = tmp_path / "lib"
    make_photo(library / "2024" / "a.jpg", 640, 480, seed=1)
    make_photo(library / "2024" / "b.jpg", 640, 480, seed=2)
    make_photo(library / "2023" / "c.jpg", 640, 480, seed=3)
    no_models = tmp_path / "no-models"
    no_models.mkdir()
    settings = settings_for(library, models_dir=no_models)
    sessions = open_database(settings.resolved_database_url)
    Scanner(settings, sessions).scan(library)
    return library, settings, sessions


def test_albums_and_hearts_outlive_a_rescan_and_a_photo_moved_on_disk(
        scanned: tuple[Path, Settings, sessionmaker[Session]]) -> None:
    library, settings, sessions = scanned
    with sessions() as session:
        by_path = {relpath: pid for relpath, pid in session.execute(select(Photo.relpath, Photo.id))}
        album = made(create_album(session, "Moved"))
        changed(add_photos(session, album.id, [by_path["2024/a.jpg"], by_path["2024/b.jpg"]]))
        set_favorite(session, [by_path["2024/a.jpg"]])
    # WHEN the library is scanned again with nothing changed
    Scanner(settings, sessions).scan(library)
    with sessions() as session:
        assert album_count(session, album.id) == 2 and favorites_summary(session).count == 1
    # WHEN a.jpg is moved and renamed on disk, and the library scanned again
    (library / "moved").mkdir()
    shutil.move(library / "2024" / "a.jpg", library / "moved" / "renamed.jpg")
    summary = Scanner(settings, sessions).scan(library)
    assert summary.moved == 1
    with sessions() as session:
        # THEN the scan relinked its row: same id, new path, still in the album and hearted
        moved = session.get(Photo, by_path["2024/a.jpg"])
        assert moved is not None and moved.relpath == "moved/renamed.jpg" and moved.gone_at is None
        assert sorted(r.id for r in session.execute(photos_query(album.id))) == sorted(
            [by_path["2024/a.jpg"], by_path["2024/b.jpg"]])
        assert [r.id for r in session.execute(photos_query(None))] == [by_path["2024/a.jpg"]]
    # WHEN b.jpg is deleted from the disk, and the library scanned again
    (library / "2024" / "b.jpg").unlink()
    Scanner(settings, sessions).scan(library)
    with sessions() as session:
        # THEN the album shows what is left, and keeps b's membership for when it comes back
        assert album_count(session, album.id) == 1
        assert session.scalar(select(func.count()).select_from(AlbumPhoto)) == 2
