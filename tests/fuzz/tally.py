"""What the fuzzing did, for the summary `make fuzz` prints: calls and statuses per phase, seed
and caller, and each distinct failure (operation, status, what was wrong) once."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field


@dataclass
class Tally:
    started: float = field(default_factory=time.monotonic)
    calls: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    statuses: defaultdict[tuple[str, int, str], Counter[int]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    failures: dict[tuple[str, str, str], int] = field(default_factory=dict)
    links_followed: int = 0
    flaky_restarts: int = 0

    def call(self, phase: str, seed: int, who: str, status: int) -> None:
        self.calls[phase, seed, who] += 1
        self.statuses[phase, seed, who][status] += 1

    def failure(self, operation: str, status: int, error: BaseException) -> None:
        key = (operation, str(status), describe(error))
        self.failures[key] = self.failures.get(key, 0) + 1

    def summary(self) -> list[str]:
        lines = [f"{sum(self.calls.values())} calls in {time.monotonic() - self.started:.0f} s"]
        for key in sorted(self.calls):
            phase, seed, who = key
            spread = " ".join(f"{s}:{n}" for s, n in sorted(self.statuses[key].items()))
            lines.append(
                f"  {phase:<9} seed {seed:<6} {who:<9} {self.calls[key]:>6} calls  {spread}"
            )
        if self.links_followed:
            lines.append(f"  stateful steps that followed a link: {self.links_followed}")
        if self.flaky_restarts:
            lines.append(
                f"  stateful runs restarted after Hypothesis's Flaky: {self.flaky_restarts}"
            )
        if self.failures:
            lines.append(f"{len(self.failures)} distinct failures:")
            for (operation, status, problem), count in sorted(self.failures.items()):
                lines.append(f"  {operation} -> {status}: {problem} (x{count})")
        else:
            lines.append("no failures")
        return lines


def describe(error: BaseException) -> str:
    """One line: the titles of schemathesis's failures, or the assertion's first line."""
    inner = getattr(error, "exceptions", None)
    if inner:
        return "; ".join(sorted({describe(e) for e in inner}))
    text = getattr(error, "title", None) or str(error).strip() or type(error).__name__
    return str(text).splitlines()[0][:160]


TALLY = Tally()
