"""Swagger UI's files (functions/docs.py): shipped by the pinned package, read only on first use."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.fresh_interpreter import run_fresh

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_every_allow_listed_asset_is_shipped_by_the_pinned_package():
    from functions import docs

    package_dir = docs.swagger_ui_dir()
    assert package_dir.is_dir()
    assert docs.swagger_ui_version().split(".")[0] == "5"  # 5.x renders OpenAPI 3.1
    for name, content_type in docs.ASSETS.items():
        assert content_type in {"text/javascript", "text/css"}
        text = docs.asset_text(name)
        assert text.strip(), name
        if name != "swagger-initializer.js":  # ours, not the package's petstore example
            assert text == (package_dir / name).read_text(encoding="utf-8")
    assert "/api/openapi.json" in docs.asset_text("swagger-initializer.js")
    assert "petstore" not in docs.asset_text("swagger-initializer.js")


def test_the_package_is_a_pinned_runtime_requirement():
    lines = (REPO_ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if line.startswith("swagger-ui-bundle-v2==")]


def test_importing_the_app_reads_no_docs_file():
    """The package is imported and its files read on the first docs request, never at import."""
    script = textwrap.dedent(
        """
        import builtins, io, json, pathlib, sys
        opened = []
        real_open = io.open
        def spy(file, *args, **kwargs):
            opened.append(str(file))
            return real_open(file, *args, **kwargs)
        builtins.open = io.open = spy
        import function_app
        from functions import docs
        print(json.dumps({
            "imported": "swagger_ui_bundle" in sys.modules,
            "cached": docs.asset_text.cache_info().currsize,
            "opened": [f for f in opened if "/swagger_ui_bundle/" in f],
        }))
        """
    )
    report = run_fresh(script)
    assert report == {"imported": False, "cached": 0, "opened": []}
