"""Every AI generation, stored for review: what was asked (prompt version, deployment, a hash
of the input), how it went (attempts, latency, validation result, failure reasons) and what was
served (`ai`, `template` or `rules`). SQL only; services call `insert` in the transaction that
stores the result, so a generation and its plan commit together.

`validation` is `passed` (the AI answer passed every check and was served), `failed` (AI was
asked and every attempt failed: the template was served) or `skipped` (AI is off).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg2.extras import Json

from shared.ai.client import AiConfig
from shared.ai.structured import Generated
from shared.db import Cursor

KINDS = ("care_plan", "meal_plan", "personality_analysis", "care_report_summary")


@dataclass(frozen=True)
class Generation:
    kind: str
    prompt_version: str
    input_hash: str
    source: str
    validation: str
    deployment: str | None = None
    attempts: int = 0
    latency_ms: int = 0
    failures: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def of(
        cls,
        kind: str,
        *,
        prompt_version: str,
        input_hash: str,
        config: AiConfig,
        generated: Generated[Any] | None,
        fallback_source: str = "template",
    ) -> Generation:
        """Describe a generation: `generated` is None when AI was not asked (AI is off)."""
        if generated is None:
            return cls(kind, prompt_version, input_hash, fallback_source, "skipped")
        return cls(
            kind,
            prompt_version,
            input_hash,
            source="ai" if generated.ok else fallback_source,
            validation="passed" if generated.ok else "failed",
            deployment=config.deployment,
            attempts=generated.attempts,
            latency_ms=generated.latency_ms,
            failures=tuple(str(f)[:1000] for f in generated.failures),
        )


def insert(
    cur: Cursor,
    generation: Generation,
    *,
    patient_id: int | None,
    requested_by: int | None,
    resource_type: str,
    resource_ids: Sequence[int],
) -> int:
    """Store one generation; its generation_id."""
    cur.execute(
        """
        INSERT INTO ai_generations (kind, patient_id, requested_by, resource_type, resource_ids,
            prompt_version, deployment, input_hash, validation, failure_reasons, source,
            attempts, latency_ms)
        VALUES (%(kind)s, %(patient_id)s, %(requested_by)s, %(resource_type)s,
            %(resource_ids)s::bigint[], %(prompt_version)s, %(deployment)s, %(input_hash)s,
            %(validation)s, %(failures)s, %(source)s, %(attempts)s, %(latency_ms)s)
        RETURNING generation_id
        """,
        {
            "kind": generation.kind,
            "patient_id": patient_id,
            "requested_by": requested_by,
            "resource_type": resource_type,
            "resource_ids": list(resource_ids),
            "prompt_version": generation.prompt_version,
            "deployment": generation.deployment,
            "input_hash": generation.input_hash,
            "validation": generation.validation,
            "failures": Json(list(generation.failures)),
            "source": generation.source,
            "attempts": generation.attempts,
            "latency_ms": generation.latency_ms,
        },
    )
    row = cur.fetchone()
    assert row is not None  # INSERT ... RETURNING one row
    return int(row["generation_id"])
