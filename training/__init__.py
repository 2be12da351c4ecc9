"""Training the matching model (developer and operator tooling; never deployed).

    simulate.py  a platform's history from a hidden compatibility function, with noise
    history.py   the same frame from the database's matching results and reviews
    frame.py     the training frame: feature rows grouped by request, graded outcomes
    train.py     XGBoost with qid groups, time-split validation, objective choice
    evaluate.py  NDCG@k, recall@k, exposure of caregivers new to the platform
    report.py    JSON and Markdown report with PNG plots
    pipeline.py  all of it in order: what `manage.py train-model` runs
    publish.py   upload a trained model directory to Blob Storage

Outcomes are graded per shown candidate: 0 shown but not chosen, 1 chosen (not kept 4 weeks),
2 kept for 4+ weeks, 3 kept and rated 4 or 5 by the guardian.
"""
