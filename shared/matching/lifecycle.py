"""The matching lifecycle as one transition table.

    recommended --select (guardian)--> selected --accept (caregiver)--> active
                                                --decline (caregiver)--> declined
    selected | active --cancel (guardian or caregiver)--> cancelled
    active --complete (guardian)--> completed

Anything else is a 409. A role that may never take an action gets 403; a guardian who does not
own the patient, or a caregiver who is not the matching's, gets 404 as for a missing matching.
"""

from __future__ import annotations

from dataclasses import dataclass

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
