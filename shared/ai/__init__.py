"""AI writing on Azure OpenAI: care plans, meal plans, personality analyses, report summaries.

AI output is untrusted input. Every generation goes the same way (`structured.generate`): the
model answers in a pydantic schema (structured outputs), the answer is parsed, then checked by
hard rules (`checks`: allergens and the ingredients made from them, sodium and carbohydrate caps,
energy against macros, no drug names or doses); a failure is retried once with its reason, and a
second failure, a timeout, a rate limit or a server error ends in a deterministic template
(`templates`). The caller always gets a valid answer within the time budget, and every
generation is stored for review (`generations`).

Nothing here imports `openai` at import time: the SDK (about 0.9 s) loads on the first call.
"""
