"""Latency of `POST /api/patients/{id}/matching-requests` at 10,000 to 300,000 caregivers.

The served app (`manage.py serve`, the same process model as `make run`) answers requests from a
guardian whose patient is in Seoul, over a database of N caregivers (default 10,000), about half
in the capital area, with certifications, specialties, personality and weekly availability,
scoring with a demo XGBoost model published to Azurite. Each request varies its days and time
slots. A second patient in Jeju (about 1/28 of the country) shows the cost follows the region.

Printed beside each figure: its target and a baseline measured in the same run.
- served app p95: under 50 ms up to 10,000 caregivers, under 300 ms above (issue 16);
- the floor: the same filter statement (region first, through caregiver_search), features and
  the model's `inplace_predict`, in-process, without HTTP, authorisation, audit or storage: the
  best plan for the same answer; the served app should stay within 3x of it;
- the baseline: the previous statement (`shared.matching.filters_reference`: every active
  caregiver classified from the source tables, then the candidate query), on the same requests,
  with the same features and model. Its answers are compared with the new ones (they must be
  identical: counts, candidates_considered, survivors).

The dataset is built with set-based SQL (generate_series) with triggers off, as a restore loads,
then caregiver_search is computed once: about a minute for 300,000 caregivers here.

From another script (benchmarks/scale.py):

    from benchmarks import matching_latency
    rows = matching_latency.run(caregivers=300_000, requests_count=200)
    # -> [Row(name, figure, target, baseline), ...]; figures in ms, target None when informative

Usage: python benchmarks/matching_latency.py [--caregivers 10000] [--requests 200]
       [--baseline-requests 20]   (exit status 1 when a target is missed)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import requests

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

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CAPITAL_REGIONS = [
    "SEOUL_GANGNAM", "SEOUL_MAPO", "SEOUL_NOWON", "GYEONGGI_GOYANG", "GYEONGGI_SUWON",
    "INCHEON_BUPYEONG",
]  # fmt: skip
OTHER_REGIONS = [
    "BUSAN_HAEUNDAE", "DAEGU_SUSEONG", "GWANGJU_BUK", "DAEJEON_SEO", "ULSAN_NAM",
    "SEJONG_HANSOL", "GANGWON_CHUNCHEON", "CHUNGBUK_CHEONGJU", "CHUNGNAM_CHEONAN",
    "JEONBUK_JEONJU", "JEONNAM_MOKPO", "GYEONGBUK_POHANG", "GYEONGNAM_CHANGWON", "JEJU_JEJU",
]  # fmt: skip
SPECIALTIES = ["dementia", "stroke", "diabetes", "hypertension", "arthritis", "hospice",
               "bedridden_care", "feeding_assist", "rehabilitation", "parkinsons"]  # fmt: skip


class Row(NamedTuple):
    """One printed figure: `target` None when it is informative only; `baseline` the figure
    it is compared with, from the same run (None when none)."""

    name: str
    figure: float
    target: float | None
    baseline: float | None


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


#: The caregivers, set-based: ~half in the capital area, 90 % with a caregiver certification,
#: 1-3 specialties, personality, 3-6 days a week of one slot, and an evening slot on ~3 % of
#: the days (days no single slot spans). `%(n)s` caregivers, `%(seed)s` in -1..1.
SEED_SQL = f"""
SELECT setseed(%(seed)s);
CREATE TEMP TABLE bench_cg ON COMMIT DROP AS
SELECT i,
       ({_array(["female", "female", "male"])})[1 + floor(random() * 3)::int] AS gender,
       CASE WHEN random() < 0.5
            THEN ({_array(CAPITAL_REGIONS)})[1 + floor(random() * {len(CAPITAL_REGIONS)})::int]
            ELSE ({_array(OTHER_REGIONS)})[1 + floor(random() * {len(OTHER_REGIONS)})::int]
       END AS region
FROM generate_series(1, %(n)s) AS i;
INSERT INTO users (email, name, role, gender)
SELECT 'bench-cg-' || i || '@bench.invalid', '요양보호사' || i, 'caregiver', gender
FROM bench_cg ORDER BY i;
INSERT INTO caregivers (user_id, experience_years, service_region, has_vehicle, hourly_rate,
                        avg_rating, total_reviews)
SELECT u.user_id, floor(random() * 26)::int, b.region, random() < 0.4,
       11000 + 500 * floor(random() * 29)::int, round((3 + random() * 2)::numeric, 2),
       floor(random() * 41)::int
FROM bench_cg b JOIN users u ON u.email = 'bench-cg-' || b.i || '@bench.invalid'
ORDER BY b.i;
INSERT INTO caregiver_certifications (caregiver_id, code)
SELECT caregiver_id, CASE WHEN r < 0.45 THEN 'caregiver_1' WHEN r < 0.9 THEN 'caregiver_2'
                          WHEN r < 0.95 THEN 'nurse_aide' ELSE 'nurse' END
FROM (SELECT caregiver_id, random() AS r FROM caregivers) c;
INSERT INTO caregiver_specialties (caregiver_id, code)
SELECT c.caregiver_id, s.code FROM caregivers c
CROSS JOIN LATERAL (SELECT code FROM unnest({_array(SPECIALTIES)}) code
                    ORDER BY random() + c.caregiver_id * 0
                    LIMIT 1 + floor(random() * 3)::int) s;
INSERT INTO caregiver_personality (caregiver_id, empathy, activity, patience, independence)
SELECT caregiver_id, 20 + floor(random() * 76)::int, 20 + floor(random() * 76)::int,
       20 + floor(random() * 76)::int, 20 + floor(random() * 76)::int
FROM caregivers;
INSERT INTO caregiver_availability (caregiver_id, day, start_time, end_time)
SELECT c.caregiver_id, d.day, make_time(c.h, 0, 0), make_time(least(c.h + c.len, 23), 0, 0)
FROM (SELECT caregiver_id, (ARRAY[6, 7, 8, 9, 10, 13])[1 + floor(random() * 6)::int] AS h,
             (ARRAY[4, 6, 8])[1 + floor(random() * 3)::int] AS len,
             3 + floor(random() * 4)::int AS ndays
      FROM caregivers) c
CROSS JOIN LATERAL (SELECT day FROM unnest({_array(DAYS)}) day
                    ORDER BY random() + c.caregiver_id * 0 LIMIT c.ndays) d;
INSERT INTO caregiver_availability (caregiver_id, day, start_time, end_time)
SELECT caregiver_id, day, '18:00', '21:00' FROM caregiver_availability
WHERE random() < 0.03 AND end_time < '18:00';
"""  # noqa: S608  (constant SQL)


def one(cur: Any) -> dict[str, Any]:
    """The row a statement that always returns one row returned."""
    row = cur.fetchone()
    assert row is not None
    return dict(row)


def seed(database_url: str, caregivers: int, rng: random.Random) -> dict[str, tuple[int, int]]:
    """The caregivers, and a guardian with a patient in Seoul and one in Jeju:
    {"seoul": (patient_id, guardian user_id), "jeju": (...)}."""
    import psycopg2
    import psycopg2.extras

    conn = psycopg2.connect(database_url, cursor_factory=psycopg2.extras.RealDictCursor)
    with conn, conn.cursor() as cur:
        # As a restore loads: no trigger (change tracking, the search queue) per statement;
        # caregiver_search is computed once below.
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(SEED_SQL, {"n": caregivers, "seed": rng.uniform(-1, 1)})
        cur.execute("SET LOCAL session_replication_role = DEFAULT")
        cur.execute("SELECT caregiver_search_refresh(ARRAY(SELECT caregiver_id FROM caregivers))")
        patients = {
            name: _patient(cur, name, region)
            for name, region in (("seoul", "SEOUL_GANGNAM"), ("jeju", "JEJU_JEJU"))
        }
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()
    return patients


def _patient(cur: Any, name: str, region: str) -> tuple[int, int]:
    cur.execute(
        "INSERT INTO users (email, name, role) VALUES (%s, '보호자', 'guardian') RETURNING user_id",
        (f"bench-guardian-{name}@bench.invalid",),
    )
    guardian_user = one(cur)["user_id"]
    cur.execute(
        "INSERT INTO guardians (user_id, address) VALUES (%s, %s) RETURNING guardian_id",
        (guardian_user, region),
    )
    guardian_id = one(cur)["guardian_id"]
    cur.execute(
        "INSERT INTO patients (guardian_id, name, birth_date, gender, care_address,"
        " region_code, care_level) VALUES (%s, '환자', '1941-03-14', 'female', %s, %s,"
        " 'grade_3') RETURNING patient_id",
        (guardian_id, region, region),
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
        session.post(url, json=body, timeout=60).raise_for_status()
    timings = []
    for body in bodies:
        started = time.perf_counter()
        response = session.post(url, json=body, timeout=60)
        timings.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    kind = response.json()["model"]["kind"]
    if kind != "xgboost":
        raise SystemExit(f"the served app scored with {kind!r}, not the published model")
    return timings


def measure_in_process(
    patient_id: int, bodies: list[dict], *, reference: bool = False
) -> tuple[list[float], list[Any]]:
    """Timings of the filter statement (the new one, or the reference and its candidate query),
    features and `inplace_predict`, in-process; and each request's filter outcome."""
    from models.matching import MatchingRequestIn
    from shared.db import get_database
    from shared.matching import filters, filters_reference, repository
    from shared.matching.features import build_features
    from shared.matching.model_registry import get_active_model
    from shared.matching.ranking import patient_profile, request_profile
    from shared.matching.scoring import XGBoostScorer
    from shared.matching.service import _filter_input

    scorer = get_active_model().scorer
    if not isinstance(scorer, XGBoostScorer):
        raise SystemExit("the benchmark needs the XGBoost model (train-model, publish-model)")
    db = get_database()
    timings, outcomes = [], []
    warm = bodies[:3] if reference else bodies[:10]
    for index, raw in enumerate([*warm, *bodies]):
        body = MatchingRequestIn.model_validate(raw)
        started = time.perf_counter()
        with db.transaction(readonly=True) as cur:
            patient = repository.patient_profile(cur, patient_id)
            assert patient is not None
            request = _filter_input(body, patient["region_code"])
            if reference:
                outcome = filters_reference.run_reference_filters(cur, request)
                candidates = filters_reference.candidates_from_columns(
                    filters_reference.candidate_columns(cur, outcome.survivors)
                )
                mean = filters_reference.reference_mean_rating(cur)
            else:
                outcome = filters.run_hard_filters(cur, request)
                candidates, mean = outcome.candidates, outcome.platform_mean_rating
        features = build_features(
            patient_profile(patient),
            request_profile(body),
            candidates,
            platform_mean_rating=mean,
        )
        scorer.margins(features)
        if index >= len(warm):
            timings.append((time.perf_counter() - started) * 1000)
            outcomes.append((outcome.considered, outcome.excluded, list(outcome.survivors)))
    return timings, outcomes


def serve(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--threads", "4"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok:
                return process
        except requests.RequestException:  # not listening yet, or too busy to answer
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"manage.py serve did not start; see {log_path}")


def target_ms(caregivers: int) -> float:
    """Issue 16: p95 under 50 ms up to 10,000 caregivers, under 300 ms above."""
    return 50.0 if caregivers <= 10_000 else 300.0


def _measure(
    azurite: Azurite,
    work: Path,
    database_url: str,
    patients: dict[str, tuple[int, int]],
    requests_count: int,
    baseline_requests: int,
    rng: random.Random,
    progress: Any,
) -> tuple[list[float], list[float], list[float], list[float], list[Any], list[Any]]:
    """Serve and time: the served app (Seoul, Jeju), the floor, the reference and its answers
    beside the new ones."""
    app = None
    try:
        azurite.start()
        env = {
            # The example's working local values: every app setting the host resolves in its
            # binding expressions (queues, schedules) included.
            **json.loads((REPO_ROOT / "local.settings.json.example").read_text())["Values"],
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)},
            "APP_ENV": "development",
            "LOG_LEVEL": "WARNING",
            "LOCAL_SETTINGS_PATH": os.devnull,
            "DATABASE_URL": database_url,
            "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
            "RATE_LIMIT_MATCHING_PER_HOUR": "100000",
            "AzureWebJobsStorage": azurite.connection_string,
        }
        os.environ.update(env)
        from devtools.demo_model import ensure_demo_model
        from shared.auth.tokens import issue_token

        progress("training and publishing the demo model to Azurite ...")
        version = ensure_demo_model(azurite.connection_string, "models/matching")
        progress(f"  model {version}")

        port = 7300 + os.getpid() % 500
        app = serve(env, port, work / "serve.log")
        base = f"http://127.0.0.1:{port}"
        bodies = request_bodies(requests_count, rng)
        seoul, seoul_user = patients["seoul"]
        jeju, jeju_user = patients["jeju"]
        progress(f"timing {requests_count} requests through the served app ...")
        http = measure_http(base, issue_token(seoul_user, "guardian")[0], seoul, bodies)
        jeju_token = issue_token(jeju_user, "guardian")[0]
        http_jeju = measure_http(base, jeju_token, jeju, bodies[: max(20, len(bodies) // 4)])
        progress("timing the floor and the reference statement in-process ...")
        floor, _ = measure_in_process(seoul, bodies)
        checked = bodies[:baseline_requests]
        reference, old_answers = measure_in_process(seoul, checked, reference=True)
        _, new_answers = measure_in_process(seoul, checked)
    finally:
        if app is not None:
            app.terminate()
            app.wait(timeout=10)
    return http, http_jeju, floor, reference, old_answers, new_answers


def run(
    caregivers: int = 10_000,
    requests_count: int = 200,
    baseline_requests: int = 20,
    seed_value: int = 7,
    progress: Any = print,
) -> list[Row]:
    """Build the dataset, serve, measure; the rows to print (figures in ms)."""
    rng = random.Random(seed_value)  # noqa: S311 (benchmark data, not secrets)
    server_url = resolve_server_url()
    name = f"neulbom_bench_matching_{os.getpid()}"
    create_database(server_url, name)
    work = Path(tempfile.mkdtemp(prefix="bench-matching-"))
    azurite = Azurite(work / "azurite")
    try:
        database_url = with_database(server_url, name)
        migrate(database_url)
        progress(f"seeding {caregivers} caregivers ...")
        started = time.perf_counter()
        patients = seed(database_url, caregivers, rng)
        built = time.perf_counter() - started
        progress(f"  seeded in {built:.1f} s")

        timings = _measure(
            azurite, work, database_url, patients, requests_count, baseline_requests, rng, progress
        )
        http, http_jeju, floor, reference, old_answers, new_answers = timings
        checked = old_answers
    finally:
        azurite.stop()
        from shared.db import reset_database

        reset_database()
        drop_database(server_url, name)

    same = sum(old == new for old, new in zip(old_answers, new_answers, strict=True))
    if same != len(checked):
        raise SystemExit(
            f"the filters answered differently from the reference: {same}/{len(checked)}"
        )
    target = target_ms(caregivers)
    p95, f95, r95 = percentile(http, 95), percentile(floor, 95), percentile(reference, 95)
    return [
        Row(f"matching p50, {caregivers:,} caregivers (ms)", percentile(http, 50), None,
            percentile(reference, 50)),
        Row(f"matching p95, {caregivers:,} caregivers (ms)", p95, target, r95),
        Row("matching p95, patient in Jeju (ms)", percentile(http_jeju, 95), target, r95),
        Row("matching floor p95, same statement in-process (ms)", f95, None, r95),
        Row("served app / floor, p95 (x)", p95 / f95, 3.0, None),
        Row(f"answers identical to the reference ({len(checked)} requests)", float(same),
            float(len(checked)), None),
        Row(f"dataset build, {caregivers:,} caregivers (s)", built, None, None),
    ]  # fmt: skip


def print_rows(rows: list[Row]) -> bool:
    """The table; whether every target is met (a figure at most its target; the identical
    answers row at least)."""
    print(f"\n{'figure':58} {'measured':>10} {'target':>10} {'baseline':>10}")
    met = True
    for row in rows:
        if row.target is None:
            verdict = ""
        elif row.name.startswith("answers identical"):
            verdict = "met" if row.figure >= row.target else "MISSED"
        else:
            verdict = "met" if row.figure < row.target else "MISSED"
        met = met and verdict != "MISSED"
        target = "" if row.target is None else f"{row.target:10.1f}"
        baseline = "" if row.baseline is None else f"{row.baseline:10.1f}"
        print(f"{row.name:58} {row.figure:10.1f} {target:>10} {baseline:>10}  {verdict}")
    print(
        "baseline: the previous statement (every caregiver classified), same requests, in-process"
    )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--caregivers", type=int, default=10_000, help="caregivers (10000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests (200)")
    parser.add_argument(
        "--baseline-requests", type=int, default=20, help="requests the reference times (20)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (7)")
    args = parser.parse_args()
    rows = run(
        caregivers=args.caregivers,
        requests_count=args.requests,
        baseline_requests=args.baseline_requests,
        seed_value=args.seed,
        progress=lambda message: print(message, flush=True),
    )
    return 0 if print_rows(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
