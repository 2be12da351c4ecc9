"""Matching: hard filters and lifecycle (the service), and the model that ranks the survivors.

The model side is a small pipeline, each step its own module:

- `profiles`: what ranking needs to know about the patient, the request and the candidates;
- `features`: those profiles turned into one numeric row per candidate (`FEATURE_NAMES`);
- `scoring`: a Scorer turns rows into 0..100 scores and per-feature contributions, either the
  trained XGBoost model (`XGBoostScorer`) or the documented rule scorer (`RuleScorer`);
- `explain`: the top positive contributions as short Korean sentences;
- `model_store` and `model_registry`: the published model in Blob Storage, and the one serving.

Importing this package imports nothing heavy: numpy and xgboost load on first use, so the
Function App's cold start does not pay for them.
"""
