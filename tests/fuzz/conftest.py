"""`make fuzz`: its tests are deselected unless the mark expression names `fuzz`.

`make test` (plain `pytest`, or any `-m` without `fuzz`, such as `-m "not integration"`) leaves
them out: the nightly schedule (.github/workflows/fuzz.yml) and `make fuzz` (`-m fuzz`) run them.
Deselected, not skipped: pytest's summary counts them as deselected, and `make fuzz` selects
them with nothing skipped. The summary of every call made is printed at the end.
"""

from __future__ import annotations

import pytest

from tests.fuzz.tally import TALLY


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "fuzz" in (config.getoption("markexpr") or ""):
        return
    fuzz = [item for item in items if item.get_closest_marker("fuzz") is not None]
    if fuzz:
        config.hook.pytest_deselected(items=fuzz)
        items[:] = [item for item in items if item.get_closest_marker("fuzz") is None]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.calls:
        terminalreporter.write_sep("=", "fuzzing summary")
        for line in TALLY.summary():
            terminalreporter.write_line(line)
