"""The personality test: fixed questions, rubric scores, and an AI or rules analysis."""
