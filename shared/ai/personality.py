"""The personality test's analysis text: AI, checked, or composed by rules.

The scores are computed by the fixed rubric before anything else (shared.ai.templates.
personality.score) and are the only input of the prompt besides the subject kind and, for a
patient, the age band. AI writes the text only: Korean, 60..800 characters, no drug or dose
text, and no number that is not one of the scores (so it cannot restate them differently).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from shared.ai import checks, prompts, structured
from shared.ai.client import AiConfig, ai_config
from shared.ai.generations import Generation
from shared.ai.templates.personality import rules_analysis

KIND = "personality_analysis"
MIN_CHARS, MAX_CHARS = 60, 800
_NUMBER = re.compile(r"\d+")


class AnalysisAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    analysis: str


@dataclass(frozen=True)
class WrittenAnalysis:
    text: str
    source: str
    generation: Generation


def analysis_problems(answer: AnalysisAnswer, scores: Mapping[str, int]) -> list[str]:
    text = answer.analysis
    problems = [
        p
        for p in (
            checks.length_problem("analysis", text, MIN_CHARS, MAX_CHARS),
            checks.korean_problem("analysis", text),
        )
        if p
    ]
    problems += [f"analysis: {p}" for p in checks.medical_text_problems(text)]
    allowed = {str(v) for v in scores.values()} | {"0", "100"}
    stray = sorted({n for n in _NUMBER.findall(text) if n not in allowed})
    if stray:
        problems.append(f"analysis: numbers other than the scores ({', '.join(stray[:5])})")
    return problems


def write(
    subject: str,
    scores: Mapping[str, int],
    *,
    age_band: str | None = None,
    config: AiConfig | None = None,
) -> WrittenAnalysis:
    config = config or ai_config()
    prompt_input = {"subject": subject, "scores": dict(scores), "age_band": age_band}
    generated = None
    if config.enabled:
        generated = structured.generate(
            prompts.personality_messages(subject, scores, age_band),
            AnalysisAnswer,
            lambda answer: analysis_problems(answer, scores),
            config=config,
            max_tokens=900,
        )
    generation = Generation.of(
        KIND,
        prompt_version=prompts.PROMPT_VERSIONS[KIND],
        input_hash=prompts.input_hash(KIND, prompt_input),
        config=config,
        generated=generated,
        fallback_source="rules",
    )
    if generated is not None and generated.value is not None:
        return WrittenAnalysis(generated.value.analysis.strip(), "ai", generation)
    return WrittenAnalysis(rules_analysis(subject, scores), "rules", generation)
