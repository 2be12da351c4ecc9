"""The matching lifecycle as one transition table.

    recommended --select (guardian)--> selected --accept (caregiver)--> active
                                                --decline (caregiver)--> declined
    selected | active --cancel (guardian or caregiver)--> cancelled
    active --complete (guardian)--> completed

Anything else is a 409. A role that may never take an action gets 403; a guardian who does not
own the patient, or a caregiver who is not the matching's, gets 404 as for a missing matching.

Completing is also a 409 until care has happened (`completion_refusal`): the contract has
started (its start date is today or earlier in Korea) and at least one of the patient's care
logs is completed on a schedule of the contract so far. A completed matching is what a review
needs, so completing one right after `accept` would let a review be written for no care.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from models.vocabularies import MatchingStatus, Role

S = MatchingStatus


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[MatchingStatus]
    target: MatchingStatus
    roles: frozenset[Role]


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("select", frozenset({S.RECOMMENDED}), S.SELECTED, frozenset({Role.GUARDIAN})),
        Transition("accept", frozenset({S.SELECTED}), S.ACTIVE, frozenset({Role.CAREGIVER})),
        Transition("decline", frozenset({S.SELECTED}), S.DECLINED, frozenset({Role.CAREGIVER})),
        Transition("complete", frozenset({S.ACTIVE}), S.COMPLETED, frozenset({Role.GUARDIAN})),
        Transition(
            "cancel",
            frozenset({S.SELECTED, S.ACTIVE}),
            S.CANCELLED,
            frozenset({Role.GUARDIAN, Role.CAREGIVER}),
        ),
    )
}


_PAST_TENSE = {
    "select": "selected",
    "accept": "accepted",
    "decline": "declined",
    "complete": "completed",
    "cancel": "cancelled",
}


def describe_refusal(transition: Transition, current: str) -> str:
    """The 409 detail: what the matching is, and what it would have to be."""
    allowed = " or ".join(sorted(str(s) for s in transition.sources))
    return (
        f"A matching that is {current} cannot be {_PAST_TENSE[transition.action]};"
        f" only one that is {allowed} can."
    )


def completion_refusal(
    contract_start: date | None, today: date, completed_care_logs: bool
) -> str | None:
    """The 409 detail when an active matching may not be completed yet, else None.

    `today` is Korea's date; `completed_care_logs` says whether a care log of the patient is
    completed on a (scheduled or completed) schedule dated from the contract start to today.
    """
    if contract_start is None or contract_start > today:
        starts = f" on {contract_start.isoformat()}" if contract_start else ""
        return (
            f"The contract has not started yet (it starts{starts}); a matching can be completed"
            " only after care has begun."
        )
    if not completed_care_logs:
        return (
            "No care has been recorded since the contract started"
            f" ({contract_start.isoformat()}): a matching can be completed only once at least"
            " one care log of the patient is completed on a schedule of the contract."
        )
    return None
