"""Deterministic fallbacks of the AI writing: care-plan activities, a Korean menu catalogue, and
the personality test's questions and rubric. They pass the same checks as AI answers."""
