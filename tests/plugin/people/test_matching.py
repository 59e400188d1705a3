"""The match rule: the paper's 72% and our calibrated threshold, with a margin for ambiguous faces."""

from __future__ import annotations

import numpy as np
import pytest

from plugin.config import FaceSettings
from plugin.people.matching import SMART_ALBUM_72, PeopleIndex, match_threshold, representative
from tests.plugin.people.conftest import identities


def test_the_papers_72_percent_is_a_cosine_of_0_44() -> None:
    assert pytest.approx(0.44) == SMART_ALBUM_72
    assert match_threshold(FaceSettings(match_rule="smart_album_72")) == pytest.approx(0.44)
    assert match_threshold(FaceSettings(match_threshold=0.55)) == 0.55


def test_a_new_face_joins_its_person_and_a_stranger_joins_nobody() -> None:
    # GIVEN 50 people known by their representative vectors
    vectors, truth = identities(50, 6)
    index = PeopleIndex.build((p, representative(vectors[truth == p][:5])) for p in range(50))
    stranger, _ = identities(1, 1, seed=9)
    # WHEN each person's sixth face and a stranger are matched
    joined = [index.match(vectors[truth == p][5], 0.5, 0.05).person_id for p in range(50)]
    # THEN the faces join their own person and the stranger waits
    assert sum(j == p for p, j in enumerate(joined)) >= 48
    assert all(j in (p, None) for p, j in enumerate(joined))
    assert index.match(stranger[0], 0.5, 0.05).person_id is None


def test_rejected_people_are_skipped_and_ambiguous_faces_wait() -> None:
    vectors, _ = identities(1, 4)
    index = PeopleIndex.build([(1, representative(vectors[:3])), (2, representative(vectors[:3]))])
    # two people with the same face: ambiguous
    assert index.match(vectors[3], 0.3, 0.05).reason == "ambiguous"
    # the user said this face is not person 1: it goes to person 2
    assert index.match(vectors[3], 0.3, 0.05, exclude=[1]).person_id == 2


def test_confirmed_faces_weigh_more_in_the_representative() -> None:
    a, b = np.eye(2, dtype=np.float32)
    centre = representative(np.stack([a, b]), np.array([True, False]))
    assert centre @ a > centre @ b
