"""Average-linkage clustering with constraints, on synthetic identities."""

from __future__ import annotations

import numpy as np

from plugin.people.clustering import average_linkage, bcubed, neighbour_graph, pairwise_scores
from tests.plugin.people.conftest import identities


def test_identities_are_recovered_without_a_full_matrix() -> None:
    # GIVEN 40 people with 8 faces each and 20 people seen once
    vectors, truth = identities(40, 8)
    singles, _ = identities(20, 1, seed=1)
    all_vectors = np.vstack([vectors, singles])
    all_truth = [f"p{t}" for t in truth] + [f"s{i}" for i in range(20)]
    # WHEN clustered at the default threshold
    labels = average_linkage(all_vectors, 0.40)
    # THEN the grouping is (almost) exact and nobody seen once is merged into someone
    precision, recall = pairwise_scores(labels, all_truth)
    assert precision == 1.0 and recall > 0.95
    assert bcubed(labels, all_truth)[2] > 0.97
    singles_labels = labels[len(vectors):]
    assert all((labels == label).sum() == 1 for label in singles_labels)


def test_neighbour_graph_keeps_each_faces_best_neighbours_above_the_floor() -> None:
    vectors, truth = identities(10, 5)
    i, j = neighbour_graph(vectors, 0.3, neighbours=3)
    assert (i < j).all()
    # every face has an edge, and edges join faces of one person
    assert set(i.tolist()) | set(j.tolist()) == set(range(len(vectors)))
    assert (truth[i] == truth[j]).mean() > 0.99


def test_fixed_groups_never_merge_and_cannot_links_hold() -> None:
    # GIVEN one person's 10 faces split by the user into two people (groups 7 and 9, both fixed)
    vectors, _ = identities(1, 12)
    groups = np.array([7] * 5 + [9] * 5 + [-1, -1])
    # AND face 10 must never join group 7
    labels = average_linkage(vectors, 0.40, groups=groups, fixed={7: True, 9: True}, cannot_link={10: {7}})
    # THEN the two groups stay apart, and face 10 is not with group 7
    assert labels[0] != labels[5]
    assert len(set(labels[:5])) == 1 and len(set(labels[5:10])) == 1
    assert labels[10] != labels[0]


def test_unfixed_groups_of_one_person_merge() -> None:
    vectors, _ = identities(1, 10)
    groups = np.array([1] * 5 + [2] * 5)
    labels = average_linkage(vectors, 0.40, groups=groups, fixed={1: False, 2: False})
    assert len(set(labels)) == 1


def test_empty_input() -> None:
    assert len(average_linkage(np.zeros((0, 128), np.float32), 0.4)) == 0
