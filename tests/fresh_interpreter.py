"""Running a short script in a fresh Python interpreter from the repository root: what a cold
Functions worker sees on import (nothing in `sys.modules`, no developer settings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_fresh(script: str, *, timeout: float = 60, **settings: str) -> Any:
    """Run `script` (dedented) in a new interpreter with only PATH, an empty local settings file
    and `settings` in its environment; the JSON document its last output line prints."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "LOCAL_SETTINGS_PATH": os.devnull, **settings},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
