"""Latency of `POST /api/patients/{id}/matching-requests` with 10,000 caregivers, against a floor.

The served app (`manage.py serve`, the same process model as `make run`) answers requests from a
guardian whose patient is in Seoul, over a database of N caregivers (default 10,000) with their
certifications, specialties, personality and weekly availability, scoring with a demo XGBoost
model published to Azurite. Each request varies its days and time slots.

The floor, measured in the same run on the same database and model, is the irreducible work of
one request without HTTP, authorisation, audit or storage: the same hard-filter query, the same
candidate query, the features and the model's `inplace_predict` on the same rows.

Prints p50 and p95 of both and their ratio. Targets on a 2-core machine: p95 under 150 ms and
ratio under 3 (exit status 1 when a target is missed, so a regression is visible).

Usage: python benchmarks/matching_latency.py [--caregivers 10000] [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import requests
from psycopg2.extras import execute_values

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from devtools.azurite import Azurite  # noqa: E402
from devtools.database import (  # noqa: E402
    create_database,
    drop_database,
    migrate,
    resolve_server_url,
    with_database,
)
from shared.personality import AXES, axis_columns  # noqa: E402

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
REGIONS = [
    "SEOUL_GANGNAM", "SEOUL_MAPO", "SEOUL_NOWON", "GYEONGGI_GOYANG", "GYEONGGI_SUWON",
    "INCHEON_BUPYEONG", "BUSAN_HAEUNDAE", "DAEGU_SUSEONG", "GWANGJU_BUK", "DAEJEON_SEO",
]  # fmt: skip
SPECIALTIES = ["dementia", "stroke", "diabetes", "hypertension", "arthritis", "hospice",
               "bedridden_care", "feeding_assist", "rehabilitation", "parkinsons"]  # fmt: skip


def one(cur: Any) -> dict[str, Any]:
    """The row a statement that always returns one row returned."""
    row = cur.fetchone()
    assert row is not None
    return dict(row)


def seed(database_url: str, caregivers: int, rng: random.Random) -> tuple[int, int]:
    """Insert the caregivers and one guardian with a patient: (patient_id, guardian user_id)."""
    import psycopg2
    import psycopg2.extras

    conn = psycopg2.connect(database_url, cursor_factory=psycopg2.extras.RealDictCursor)
    with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        users = execute_values(
            cur,
            "INSERT INTO users (email, name, role, gender) VALUES %s RETURNING user_id",
            [
                (
                    f"bench-cg-{i}@bench.invalid",
                    f"요양보호사{i}",
                    "caregiver",
                    rng.choice(["female", "female", "male"]),
                )
                for i in range(caregivers)
            ],
            page_size=2000,
            fetch=True,
        )
        rows = execute_values(
            cur,
            "INSERT INTO caregivers (user_id, experience_years, service_region, has_vehicle,"
            " hourly_rate, avg_rating, total_reviews) VALUES %s RETURNING caregiver_id",
            [
                (
                    u["user_id"],
                    rng.randint(0, 25),
                    rng.choice(REGIONS),
                    rng.random() < 0.4,
                    rng.randrange(11000, 25001, 500),
                    round(rng.uniform(3, 5), 2),
                    rng.randint(0, 40),
                )
                for u in users
            ],
            page_size=2000,
            fetch=True,
        )
        ids = [r["caregiver_id"] for r in rows]
        execute_values(
            cur,
            "INSERT INTO caregiver_certifications (caregiver_id, code) VALUES %s",
            [(i, rng.choice(["caregiver_1", "caregiver_2"])) for i in ids],
            page_size=5000,
        )
        execute_values(
            cur,
            "INSERT INTO caregiver_specialties (caregiver_id, code) VALUES %s",
            [(i, s) for i in ids for s in rng.sample(SPECIALTIES, rng.randint(1, 3))],
            page_size=5000,
        )
        execute_values(
            cur,
            f"INSERT INTO caregiver_personality (caregiver_id, {axis_columns()}) VALUES %s",  # noqa: S608
            [(i, *(rng.randint(20, 95) for _ in AXES)) for i in ids],
            page_size=5000,
        )
        slots = []
        for i in ids:
            start = rng.choice([6, 7, 8, 9, 10, 13])
            for day in rng.sample(DAYS, rng.randint(3, 6)):
                slots.append(
                    (i, day, f"{start:02d}:00", f"{min(start + rng.choice([4, 6, 8]), 23):02d}:00")
                )
        execute_values(
            cur,
            "INSERT INTO caregiver_availability (caregiver_id, day, start_time, end_time)"
            " VALUES %s",
            slots,
            page_size=5000,
        )
        cur.execute(
            "INSERT INTO users (email, name, role, password_hash) VALUES"
            " ('bench-guardian@bench.invalid', '보호자', 'guardian', NULL) RETURNING user_id"
        )
        guardian_user = one(cur)["user_id"]
        cur.execute(
            "INSERT INTO guardians (user_id, address) VALUES (%s, '서울') RETURNING guardian_id",
            (guardian_user,),
        )
        guardian_id = one(cur)["guardian_id"]
        cur.execute(
            "INSERT INTO patients (guardian_id, name, birth_date, gender, care_address,"
            " region_code, care_level) VALUES (%s, '환자', '1941-03-14', 'female', '서울',"
            " 'SEOUL_GANGNAM', 'grade_3') RETURNING patient_id",
            (guardian_id,),
        )
        patient_id = one(cur)["patient_id"]
        cur.execute(
            "INSERT INTO patient_conditions (patient_id, code) VALUES (%s, 'dementia'),"
            " (%s, 'hypertension')",
            (patient_id, patient_id),
        )
        cur.execute(
            "INSERT INTO patient_personality (patient_id, empathy, activity, patience,"
            " independence) VALUES (%s, 70, 40, 80, 30)",
            (patient_id,),
        )
        cur.execute("ANALYZE")
    conn.close()
    return patient_id, guardian_user


def request_bodies(count: int, rng: random.Random) -> list[dict]:
    start = (date.today() + timedelta(days=14)).isoformat()
    bodies = []
    for _ in range(count):
        hour = rng.choice([7, 8, 9, 10, 13])
        bodies.append(
            {
                "care_type": "caregiver",
                "days": rng.sample(DAYS[:5], rng.randint(1, 3)),
                "time_slots": [{"start": f"{hour:02d}:00", "end": f"{hour + 2:02d}:00"}],
                "start_date": start,
                "top_k": 5,
            }
        )
    return bodies


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples), q))


def measure_http(base_url: str, token: str, patient_id: int, bodies: list[dict]) -> list[float]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    url = f"{base_url}/api/patients/{patient_id}/matching-requests"
    for body in bodies[:10]:  # warm-up: pool, model, caches
        session.post(url, json=body, timeout=30).raise_for_status()
    timings = []
    for body in bodies:
        started = time.perf_counter()
        response = session.post(url, json=body, timeout=30)
        timings.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    kind = response.json()["model"]["kind"]
    if kind != "xgboost":
        raise SystemExit(f"the served app scored with {kind!r}, not the published model")
    return timings


def measure_floor(patient_id: int, bodies: list[dict]) -> list[float]:
    """The same filter and candidate queries plus features and inplace_predict, in-process."""
    from models.matching import MatchingRequestIn
    from shared.db import get_database
    from shared.matching import filters, repository
    from shared.matching.features import build_features
    from shared.matching.model_registry import get_active_model
    from shared.matching.ranking import candidates_from_columns, patient_profile, request_profile
    from shared.matching.scoring import XGBoostScorer
    from shared.matching.service import _filter_input

    scorer = get_active_model().scorer
    if not isinstance(scorer, XGBoostScorer):
        raise SystemExit("the benchmark needs the XGBoost model (train-model, publish-model)")
    db = get_database()
    timings = []
    for index, raw in enumerate([*bodies[:10], *bodies]):
        body = MatchingRequestIn.model_validate(raw)
        started = time.perf_counter()
        with db.transaction(readonly=True) as cur:
            patient = repository.patient_profile(cur, patient_id)
            assert patient is not None
            outcome = filters.run_hard_filters(cur, _filter_input(body, patient["region_code"]))
            columns = repository.candidate_columns(cur, outcome.survivors)
            mean = repository.platform_mean_rating(cur)
        features = build_features(
            patient_profile(patient),
            request_profile(body),
            candidates_from_columns(columns),
            platform_mean_rating=mean,
        )
        scorer.margins(features)
        if index >= 10:
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def serve(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--threads", "4"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                return process
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"manage.py serve did not start; see {log_path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--caregivers", type=int, default=10_000, help="caregivers (10000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests (200)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (7)")
    args = parser.parse_args()
    rng = random.Random(args.seed)  # noqa: S311 (benchmark data, not secrets)

    server_url = resolve_server_url()
    name = f"neulbom_bench_matching_{os.getpid()}"
    create_database(server_url, name)
    work = Path(tempfile.mkdtemp(prefix="bench-matching-"))
    azurite = Azurite(work / "azurite")
    app = None
    try:
        database_url = with_database(server_url, name)
        migrate(database_url)
        print(f"seeding {args.caregivers} caregivers ...", flush=True)
        started = time.perf_counter()
        patient_id, guardian_user = seed(database_url, args.caregivers, rng)
        print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)

        azurite.start()
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)},
            "APP_ENV": "development",
            "LOG_LEVEL": "WARNING",
            # `manage.py serve` exports the example's working local values for what is unset
            # here (the host resolves %BACKUP_SCHEDULE% and the like from them).
            "LOCAL_SETTINGS_PATH": str(REPO_ROOT / "local.settings.json.example"),
            "DATABASE_URL": database_url,
            "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
            "AzureWebJobsStorage": azurite.connection_string,
        }
        os.environ.update(env)
        from devtools.demo_model import ensure_demo_model
        from shared.auth.tokens import issue_token

        print("training and publishing the demo model to Azurite ...", flush=True)
        version = ensure_demo_model(azurite.connection_string, "models/matching")
        print(f"  model {version}", flush=True)
        token, _ = issue_token(guardian_user, "guardian")

        port = 7300 + os.getpid() % 500
        app = serve(env, port, work / "serve.log")
        bodies = request_bodies(args.requests, rng)
        http = measure_http(f"http://127.0.0.1:{port}", token, patient_id, bodies)
        floor = measure_floor(patient_id, bodies)
    finally:
        if app is not None:
            app.terminate()
            app.wait(timeout=10)
        azurite.stop()
        from shared.db import reset_database

        reset_database()
        drop_database(server_url, name)

    p50, p95 = percentile(http, 50), percentile(http, 95)
    f50, f95 = percentile(floor, 50), percentile(floor, 95)
    print(f"\nPOST matching-requests: {args.requests} requests, {args.caregivers} caregivers")
    mean = statistics.mean(http)
    print(f"  served app  p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   mean {mean:7.1f} ms")
    print(f"  floor       p50 {f50:7.1f} ms   p95 {f95:7.1f} ms   (same queries + inplace_predict)")
    print(f"  ratio       p50 {p50 / f50:5.2f}x     p95 {p95 / f95:5.2f}x   (target < 3)")
    print(f"  target p95 < 150 ms: {'met' if p95 < 150 else 'MISSED'}")
    return 0 if p95 < 150 and p95 / f95 < 3 else 1


if __name__ == "__main__":
    sys.exit(main())
