"""Matching model quality: the trained model's NDCG@5 against the rule scorer's.

Both rank the whole candidate pools of the same held-out requests (the newest of a simulated
platform history, never seen in training), graded by the simulation's hidden compatibility
function. This is the number `manage.py train-model` prints and writes into its report; here it
is run for one or more seeds so the spread is visible.

Usage: python benchmarks/model_quality.py [--requests 3000] [--seeds 7 8 9] [--output DIR]
Exit status 1 if the model does not beat the rules on average.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="simulated requests (3000)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[7], help="simulation seeds (7)")
    parser.add_argument("--output", help="keep each run's model and report under this directory")
    args = parser.parse_args(argv)

    from training.pipeline import train_and_write

    rows = []
    for seed in args.seeds:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(args.output) / f"seed-{seed}" if args.output else Path(tmp)
            outcome = train_and_write(
                out, requests=args.requests, seed=seed, progress=lambda _m: None
            )
        head = outcome.report["headline"]
        rows.append((seed, outcome.manifest.objective, head, time.perf_counter() - started))

    print(f"Matching model vs rule scorer, {args.requests} simulated requests per seed")
    print(f"held out: {rows[0][2]['evaluated_on']}, {rows[0][2]['held_out_requests']} requests\n")
    header = (
        f"{'seed':>6} {'objective':16} {'NDCG@5 model':>13} {'NDCG@5 rules':>13} {'ratio':>7}"
        f" {'recall@5 m/r':>14} {'new in top5 m/r':>16} {'time':>6}"
    )
    print(header)
    print("-" * len(header))
    for seed, objective, h, seconds in rows:
        new_model, new_rules = (
            h["new_caregiver_exposure@5_model"],
            h["new_caregiver_exposure@5_rules"],
        )
        print(
            f"{seed:>6} {objective:16} {h['ndcg@5_model']:>13.4f} {h['ndcg@5_rules']:>13.4f}"
            f" {h['ndcg@5_ratio']:>7.3f} {h['recall@5_model']:>6.3f}/{h['recall@5_rules']:<7.3f}"
            f" {new_model:>7.1%}/{new_rules:<8.1%} {seconds:>5.1f}s"
        )
    model = statistics.mean(r[2]["ndcg@5_model"] for r in rows)
    rules = statistics.mean(r[2]["ndcg@5_rules"] for r in rows)
    print(f"\nmean NDCG@5: model {model:.4f}, rules {rules:.4f}", end="")
    print(f", ratio model/rules {model / rules:.3f}")
    return 0 if model > rules else 1


if __name__ == "__main__":
    sys.exit(main())
