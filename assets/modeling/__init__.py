"""Training and judging care-gap models as pure functions: datasets, model families, metrics, gates and explanations.

No Dagster and no MLflow here: assets and the model registry call these, and tests run them on small frames.
"""
