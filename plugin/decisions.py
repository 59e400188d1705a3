"""The user's review decisions: keep a photo, trash it, or take either back.

Only these functions (called from the review UI) write decisions; trashing goes
through :class:`plugin.trash.TrashBin`, the one place that moves photos.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.store.models import Decision, Photo
from plugin.trash import TrashBin

Choice = Literal["keep", "trash"]


@dataclass(slots=True)
class DecisionResult:
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)  # photo id -> reason


class Reviewer:
    def __init__(self, sessions: sessionmaker[Session], trash_bin: TrashBin) -> None:
        self.sessions, self.trash_bin = sessions, trash_bin

    def decide(self, photo_ids: Iterable[int], choice: Choice) -> DecisionResult:
        ids = list(dict.fromkeys(photo_ids))
        if choice == "trash":
            result = DecisionResult()
            for outcome in self.trash_bin.trash(ids):
                if outcome.ok:
                    result.done.append(outcome.photo_id)
                else:
                    result.failed[outcome.photo_id] = outcome.reason or "failed"
            return result
        return self._keep(ids)

    def _keep(self, ids: list[int]) -> DecisionResult:
        result = DecisionResult()
        with self.sessions() as session:
            photos = {p.id: p for p in session.scalars(select(Photo).where(Photo.id.in_(ids)))}
            for pid in ids:
                photo = photos.get(pid)
                if photo is None:
                    result.failed[pid] = "not_found"
                elif photo.trashed_at is not None:
                    result.failed[pid] = "in_trash"  # restore it from the trash instead
                else:
                    photo.set_decision("keep")
                    result.done.append(pid)
            session.commit()
        return result

    def undo(self, photo_ids: Iterable[int]) -> DecisionResult:
        """Take decisions back: a trashed photo returns to its place, and each photo to the review queue."""
        ids = list(dict.fromkeys(photo_ids))
        result = DecisionResult()
        entries = self.trash_bin.entries_for_photos(ids)
        for outcome in self.trash_bin.restore(entries, decision=None):
            if outcome.ok and outcome.photo_id is not None:
                result.done.append(outcome.photo_id)
            elif outcome.photo_id is not None:
                result.failed[outcome.photo_id] = outcome.reason or "failed"
        with self.sessions() as session:
            for pid in ids:
                if pid in result.done or pid in result.failed:
                    continue
                decision = session.scalar(select(Decision).where(Decision.photo_id == pid))
                if decision is None:
                    result.failed[pid] = "no_decision"
                else:
                    session.delete(decision)
                    result.done.append(pid)
            session.commit()
        return result
