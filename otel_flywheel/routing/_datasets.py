"""What each routed dataset holds and how examples get there, as Phoenix shows it.

Each example write carries its dataset's description (Phoenix keeps it when the first upload
creates the dataset) and labels (name -> description), so a person browsing the datasets page
knows what ``support-agent/review`` is without reading our code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["DATASET_PURPOSES", "DatasetPurpose", "Route"]

Route = Literal["golden", "regression", "review", "preference"]

_FLYWHEEL_LABEL: Final = {"otel-flywheel": "Routed by otel-flywheel from verdicts and feedback."}


@dataclass(frozen=True)
class DatasetPurpose:
    description: str
    labels: dict[str, str] = field(default_factory=dict)


DATASET_PURPOSES: Final[dict[Route, DatasetPurpose]] = {
    "golden": DatasetPurpose(
        "Answers people approved: a thumbs up on a trace that no check or judge failed. Expected "
        "output: the answer given; expected tool calls: the calls made. Replay gates on it; "
        "`export sft` trains on it.",
        {**_FLYWHEEL_LABEL, "human-approved": "Examples a person approved (thumbs up)."},
    ),
    "regression": DatasetPurpose(
        "Failures to fix: confident check or judge failures (expected output unknown) and "
        "people's corrections (expected output = the correction). Replay runs it against each "
        "new agent version.",
        {**_FLYWHEEL_LABEL, "failures": "Runs that failed a check, the judge or a person."},
    ),
    "review": DatasetPurpose(
        "What a reviewer should label next, highest metadata.priority first (uncertainty x "
        "rarity): uncertain judgments, failures without an expected output, thumbs down, "
        "implicit signals, and feedback that conflicts with the verdict (both signals kept).",
        {**_FLYWHEEL_LABEL, "needs-review": "Cases a person should look at, ranked by priority."},
    ),
    "preference": DatasetPurpose(
        "Pairs for preference training (DPO): a person's correction or chosen draft (chosen) "
        "over the agent's answer (rejected).",
        {**_FLYWHEEL_LABEL, "preference-pairs": "Chosen/rejected answer pairs from people."},
    ),
}
