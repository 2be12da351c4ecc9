"""The evaluation report a training run leaves beside its model: JSON, Markdown, PNG plots.

Plots use matplotlib's Agg backend (no display needed); matplotlib is a development dependency
only, never imported by the app.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
IMPORTANCE_PNG = "feature_importance.png"
NDCG_PNG = "ndcg_model_vs_rules.png"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _clean(value: Any) -> Any:
    """JSON has no NaN: write null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def plot_feature_importance(importance: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = sorted(importance.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.barh([k for k, _ in items], [v for _, v in items], color="#3b7dd8")
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance (XGBoost total gain)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_ndcg(model: dict[str, float], rules: dict[str, float], subtitle: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cutoffs = [1, 3, 5, 10]
    xs = range(len(cutoffs))
    fig, ax = plt.subplots(figsize=(6, 4))
    width = 0.38
    ax.bar(
        [x - width / 2 for x in xs],
        [model.get(f"ndcg@{k}", 0.0) for k in cutoffs],
        width,
        label="model",
        color="#3b7dd8",
    )
    ax.bar(
        [x + width / 2 for x in xs],
        [rules.get(f"ndcg@{k}", 0.0) for k in cutoffs],
        width,
        label="rules",
        color="#b0b0b0",
    )
    ax.set_xticks(list(xs), [f"NDCG@{k}" for k in cutoffs])
    ax.set_ylim(0, 1)
    ax.set_title("Held-out NDCG: model vs rules")
    ax.set_xlabel(subtitle, fontsize=8)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown(report: dict[str, Any]) -> str:
    head = report["headline"]
    held = report["held_out"]
    lines = [
        f"# Matching model {report['version']}",
        "",
        f"- objective: `{report['objective']}` ({report['trees']} trees); validation NDCG@5 per "
        "objective: "
        + ", ".join(f"`{k}` {_fmt(v)}" for k, v in report["validation_ndcg@5"].items()),
        f"- trained at {report['trained_at']} on {report['training']['requests']} requests "
        f"({report['training']['rows']} shown candidates; sources: "
        f"{', '.join(report['training']['sources'])})",
        f"- split by time: {report['split']['train']} train, {report['split']['valid']} "
        f"validation, {report['split']['test']} held-out requests",
        "",
        f"## Held-out requests ({head['evaluated_on']})",
        "",
        "| metric | model | rules |",
        "| --- | --- | --- |",
    ]
    for metric in held["model"]:
        lines.append(
            f"| {metric} | {_fmt(held['model'][metric])} | {_fmt(held['rules'][metric])} |"
        )
    lines += [
        "",
        f"NDCG@5: model {_fmt(head['ndcg@5_model'])} vs rules {_fmt(head['ndcg@5_rules'])} "
        f"(x{_fmt(head['ndcg@5_ratio'])}).",
        "",
        "Pool shares (what a ranking blind to the attribute exposes on average): "
        + ", ".join(f"{k} {_fmt(v)}" for k, v in held["pool"].items()),
    ]
    if report.get("held_out_observed"):
        observed = report["held_out_observed"]
        lines += [
            "",
            "## Held-out requests (recorded outcomes of the shown candidates)",
            "",
            "| metric | model | rules |",
            "| --- | --- | --- |",
        ]
        for metric in ("ndcg@5", "recall@5"):
            lines.append(
                f"| {metric} | {_fmt(observed['model'][metric])} | "
                f"{_fmt(observed['rules'][metric])} |"
            )
    lines += [
        "",
        "## Plots",
        "",
        f"![feature importance]({IMPORTANCE_PNG})",
        f"![NDCG model vs rules]({NDCG_PNG})",
        "",
    ]
    return "\n".join(lines)


def write_report(
    report: dict[str, Any], importance: dict[str, float], directory: Path
) -> list[Path]:
    """Write report.json, report.md and the two PNGs into `directory`; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    held = report["held_out"]
    plot_feature_importance(importance, directory / IMPORTANCE_PNG)
    plot_ndcg(
        held["model"],
        held["rules"],
        f"{report['headline']['held_out_requests']} held-out requests; "
        f"{report['headline']['evaluated_on']}",
        directory / NDCG_PNG,
    )
    (directory / REPORT_JSON).write_text(
        json.dumps(_clean(report), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (directory / REPORT_MD).write_text(markdown(report), encoding="utf-8")
    return [directory / name for name in (REPORT_JSON, REPORT_MD, IMPORTANCE_PNG, NDCG_PNG)]
