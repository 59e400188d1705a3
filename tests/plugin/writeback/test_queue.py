"""The write-back job: only changed sidecars are written; failures keep their reason and wait their turn."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from plugin.scan import Scanner
from plugin.store.models import Photo, PhotoTag, WritebackItem
from plugin.watch import Watcher
from plugin.writeback.queue import WritebackJob, writeback_status
from tests.conftest import PhotoFactory


def tag(sessions: sessionmaker[Session], relpath: str, *tags: str) -> None:
    with sessions() as session:
        photo = session.scalars(select(Photo).where(Photo.relpath == relpath)).one()
        session.query(PhotoTag).filter(PhotoTag.photo_id == photo.id).delete()
        session.add_all(PhotoTag(photo_id=photo.id, kind="piccl", tag=t, score=0.9) for t in tags)
        session.commit()


def test_only_changed_sidecars_are_written_and_failures_wait(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_photo: PhotoFactory, settings_for, sessions: sessionmaker[Session]) -> None:
    library = tmp_path / "photos"
    make_photo(library / "a.jpg", 800, 600)
    make_photo(library / "b.jpg", 800, 600)
    settings = settings_for(library)
    Scanner(settings, sessions).scan(library)
    tag(sessions, "a.jpg", "animal")
    tag(sessions, "b.jpg", "food")
    job = WritebackJob(sessions, settings)
    # WHEN the job runs twice
    assert job.run().counts == {"written": 2}
    assert job.run().counts == {"unchanged": 2}
    # WHEN one photo's tags change and the other's sidecar is broken by another program
    tag(sessions, "a.jpg", "animal", "person")
    tag(sessions, "b.jpg", "food", "book")
    (library / "b.jpg.xmp").write_text("<broken")
    report = job.run()
    # THEN the changed one is written, the broken one fails with its reason and is left alone
    assert report.counts == {"written": 1, "failed": 1}
    assert (library / "b.jpg.xmp").read_text() == "<broken"
    # AND the scheduled run does not hammer it; a run the user asks for tries it again
    assert job.run().counts == {"unchanged": 1, "waiting": 1}
    (library / "b.jpg.xmp").unlink()
    assert job.run(retry_failed=True).counts == {"unchanged": 1, "written": 1}
    with sessions() as session:
        status = writeback_status(session)
        assert (status.written, status.failed, status.not_yet) == (2, 0, 0)


def test_a_failed_sidecar_is_retried_once_its_pause_is_over(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_photo: PhotoFactory, settings_for, sessions: sessionmaker[Session]) -> None:
    library = tmp_path / "photos"
    make_photo(library / "a.jpg", 800, 600)
    settings = settings_for(library)
    Scanner(settings, sessions).scan(library)
    tag(sessions, "a.jpg", "animal")
    (library / "a.jpg.xmp").write_text("<broken")
    job = WritebackJob(sessions, settings)
    assert job.run().counts == {"failed": 1}
    with sessions() as session:
        status = writeback_status(session)
        assert status.failed == 1 and "not valid XML" in status.recent_failures[0][1]
    (library / "a.jpg.xmp").unlink()
    # WHEN its pause (2 minutes after one failure) is over
    with sessions() as session:
        item = session.scalars(select(WritebackItem)).one()
        session.execute(update(WritebackItem).values(updated_at=item.updated_at - timedelta(minutes=3)))
        session.commit()
    assert job.run().counts == {"written": 1}


def test_the_watcher_writes_sidecars_back_unless_turned_off(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_photo: PhotoFactory, settings_for, sessions: sessionmaker[Session]) -> None:
    library = tmp_path / "photos"
    make_photo(library / "a.jpg", 800, 600)
    for enabled, expected in ((False, False), (True, True)):
        settings = settings_for(library, xmp={"enabled": enabled})
        watcher = Watcher(Scanner(settings, sessions), [library], polling=True, poll_interval_s=1, settle_s=0,
                          rescan_interval_min=0, trash_dir_name=".piccl-trash")
        watcher.full_rescan()
        tag(sessions, "a.jpg", "animal")
        watcher.write_back()
        assert (library / "a.jpg.xmp").exists() is expected


def test_a_deleted_sidecar_or_a_moved_photo_gets_its_sidecar_again_and_a_hostile_one_costs_one_photo(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_photo: PhotoFactory, settings_for, sessions: sessionmaker[Session]) -> None:
    library = tmp_path / "photos"
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        make_photo(library / name, 800, 600)
    settings = settings_for(library)
    Scanner(settings, sessions).scan(library)
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        tag(sessions, name, "animal")
    job = WritebackJob(sessions, settings)
    assert job.run().counts == {"written": 3}
    # WHEN someone deletes a sidecar, a photo moves into a folder, and another sidecar is replaced by
    # XML nested deeper than any parser should follow
    (library / "a.jpg.xmp").unlink()
    (library / "sub").mkdir()
    (library / "b.jpg").rename(library / "sub" / "b.jpg")
    Scanner(settings, sessions).scan(library)
    (library / "c.jpg.xmp").write_text('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
                                       '"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description>'
                                       + "<a>" * 5000 + "</a>" * 5000 + "</rdf:Description></rdf:RDF></x:xmpmeta>")
    tag(sessions, "c.jpg", "animal", "food")
    report = job.run()
    # THEN the deleted one and the moved one are written again, and the hostile one fails alone
    assert report.counts == {"written": 2, "failed": 1}
    assert (library / "a.jpg.xmp").is_file() and (library / "sub" / "b.jpg.xmp").is_file()
