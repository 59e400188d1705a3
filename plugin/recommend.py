"""Turn analyzer verdicts into a deletion recommendation with its reasons.

A recommendation is advice, recomputed whenever an analysis changes; the
user's decision is stored elsewhere and is never touched from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Which analyzer's flag means which reason (the PICCL paper's deletion tabs: shaky, dark, similar).
REASON_BY_ANALYZER: dict[str, str] = {"blur": "blurry", "exposure": "dark"}


@dataclass(frozen=True, slots=True)
class Verdict:
    analyzer: str
    flagged: bool
    score: float | None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Advice:
    reasons: list[str]
    evidence: dict[str, Any]


def advise(verdicts: list[Verdict]) -> Advice | None:
    """The recommendation for one photo, or None when nothing is wrong with it."""
    reasons: list[str] = []
    evidence: dict[str, Any] = {}
    for verdict in sorted(verdicts, key=lambda v: v.analyzer):
        reason = REASON_BY_ANALYZER.get(verdict.analyzer)
        if reason is None or not verdict.flagged:
            continue
        reasons.append(reason)
        evidence[reason] = {"score": verdict.score, **verdict.evidence}
    return Advice(reasons, evidence) if reasons else None
