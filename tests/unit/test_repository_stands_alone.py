"""A clone of this repository alone builds, runs, tests and documents the API: nothing reads or
points to the folder beside it that held the first contract (the repository's own account of
the API is docs/api.md, docs/api-routes.txt and docs/openapi.json)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".git", ".venv", "node_modules", ".local", "__pycache__", ".mypy_cache"}
SKIPPED_DIRS |= {".pytest_cache", ".ruff_cache", ".hypothesis", "reports"}
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".ini", ".cfg", ".json", ".yml", ".yaml", ".sh"}
TEXT_SUFFIXES |= {".bicep", ".bicepparam", ".example"}
#: Spelled in pieces so this file does not match itself.
OUTSIDE = ["../" + "shared", *("shared/" + name for name in ("API.md", "DESIGN.md", "api-routes"))]


def _text_files() -> list[Path]:
    found = []
    for folder, subfolders, files in os.walk(REPO_ROOT):
        subfolders[:] = [name for name in subfolders if name not in SKIPPED_DIRS]
        for name in files:
            path = Path(folder) / name
            if path.suffix in TEXT_SUFFIXES or name in {"Makefile", "run"}:
                found.append(path)
    return found


def test_nothing_reads_or_names_the_folder_beside_the_repository():
    offending = [
        f"{path.relative_to(REPO_ROOT)}: {needle}"
        for path in _text_files()
        for needle in OUTSIDE
        if needle in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert not offending, "\n".join(offending)


def test_the_api_documents_are_in_the_repository():
    for name in ("api.md", "api-routes.txt", "openapi.json"):
        assert (REPO_ROOT / "docs" / name).is_file(), name
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    first_paragraph = readme.split("\n\n")[1]
    assert "docs/api.md" in first_paragraph
