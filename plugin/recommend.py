"""Turn analyzer verdicts into deletion recommendations, one per reason, each with its evidence.

A recommendation is advice, recomputed whenever an analysis changes; the
user's decision is stored elsewhere and is never touched from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Which analyzer's flag means which reason (the PICCL paper's deletion tabs: shaky, dark, similar).
REASON_BY_ANALYZER: dict[str, str] = {"blur": "blurry", "exposure": "dark"}
# Every reason the review UI has a tab for, in tab order. 'duplicate' (copies and edits) and 'similar'
# (other shots of one moment) come from grouping (plugin.grouping), which names the photo to keep.
REASONS: tuple[str, ...] = ("blurry", "dark", "duplicate", "similar")


@dataclass(frozen=True, slots=True)
class Verdict:
    analyzer: str
    flagged: bool
    score: float | None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Advice:
    """One reason to delete a photo."""

    reason: str
    severity: float  # how far past its threshold: >= 1 when flagged, larger is worse
    evidence: dict[str, Any]


def severity(verdict: Verdict) -> float:
    """How bad a flagged photo is, as a ratio to its threshold, so each review tab can show the worst first."""
    ev = verdict.evidence
    if verdict.analyzer == "blur":
        if ev.get("edge_width_px") and ev.get("threshold_px"):
            return round(float(ev["edge_width_px"]) / float(ev["threshold_px"]), 4)
        if ev.get("threshold") and verdict.score is not None:  # piccl2021: variance below alpha
            return round(float(ev["threshold"]) / max(float(verdict.score), 1.0), 4)
    if verdict.analyzer == "exposure" and ev.get("threshold") and verdict.score is not None:
        return round(float(verdict.score) / float(ev["threshold"]), 4)
    return 1.0


def advise(verdicts: list[Verdict]) -> list[Advice]:
    """The recommendations for one photo (empty when nothing is wrong with it)."""
    advice: list[Advice] = []
    for verdict in sorted(verdicts, key=lambda v: v.analyzer):
        reason = REASON_BY_ANALYZER.get(verdict.analyzer)
        if reason is None or not verdict.flagged:
            continue
        advice.append(Advice(reason, severity(verdict), {"score": verdict.score, **verdict.evidence}))
    return advice
