"""What MLflow records for each training: params, metrics per family, the training snapshot as a dataset input, the
feature list, the chosen model with its signature, and a new registered version carrying the provenance as tags.
"""

import subprocess

from assets.features import KEYS
from assets.modeling.dataset import FEATURE_COLUMNS, model_input
from assets.modeling.evaluation import SUBGROUPS, evaluate
from assets.modeling.gates import GateConfig
from assets.modeling.pyfunc import SignatureMismatch, check_signature, log_care_gap_model
from assets.modeling.training import GATE_METRICS, Candidate, Split
from resources.environment import PROJECT_ROOT
from resources.model_registry import CHAMPION, ModelRegistry, model_name


def git_commit() -> str:
    """The commit the code was trained from ("unknown" outside a git checkout)."""
    done = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def _numbers(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if k in GATE_METRICS and v is not None}


def log_and_register(registry: ModelRegistry, measure: str, data: Split, candidates: list[Candidate], chosen: Candidate, cfg: GateConfig,
                     training_hash: str, dagster_run_id: str | None) -> tuple[str, int]:
    """One MLflow run per measure (a nested run per family), the chosen model logged and registered; returns run id and version."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    run_tags = {"measure": measure, "dagster_run_id": dagster_run_id or "none", "mlflow.source.git.commit": git_commit(), "family": chosen.family,
                "training_snapshot_sha256": training_hash, "train_months": ",".join(data.train_months),
                "validation_months": ",".join(data.validation_months)}
    with registry.session() as mlflow:
        with mlflow.start_run(experiment_id=registry.experiment_id(), run_name=f"train {measure}", tags=run_tags) as run:
            source = CodeDatasetSource({"dagster_assets": "gold/features, gold/labels", "as_of_months": ",".join(data.train_months)})
            mlflow.log_input(MetaDataset(source, name=f"{measure}_training", digest=training_hash[:20]), context="training")
            mlflow.log_params({"family": chosen.family, "half_life_months": cfg.half_life_months, "validation_months": cfg.validation_months,
                               "seed": cfg.seed, "train_rows": data.train.height, "validation_rows": data.validation.height,
                               **{f"{chosen.family}.{k}": v for k, v in cfg.families[chosen.family].items()}})
            mlflow.log_metrics(_numbers(chosen.metrics))
            mlflow.log_dict({"features": FEATURE_COLUMNS, "keys": KEYS}, "feature_list.json")
            mlflow.log_dict({"metrics": chosen.metrics, "gate": chosen.gate.checks}, "validation_metrics.json")
            for c in candidates:
                with mlflow.start_run(run_name=c.family, nested=True, tags={"measure": measure, "family": c.family, "gate_passed": str(c.gate.passed)}):
                    mlflow.log_metrics(_numbers(c.metrics) | {"fit_seconds": c.fit_seconds})
            info = log_care_gap_model(chosen.model)
            version = mlflow.register_model(info.model_uri, model_name(measure), tags={**run_tags, "gate_passed": str(chosen.gate.passed)})
    return run.info.run_id, int(version.version)


def champion_metrics(registry: ModelRegistry, measure: str, data: Split, cfg: GateConfig) -> tuple[dict | None, str | None]:
    """The serving champion's metrics on this candidate's validation rows, or why it cannot be compared."""
    current = registry.version(measure, CHAMPION)
    if current is None:
        return None, None
    loaded = registry.load(measure, CHAMPION)
    frame = data.validation.select(FEATURE_COLUMNS)
    try:
        check_signature(loaded, frame.columns)
    except SignatureMismatch as mismatch:
        return None, f"champion version {current.version} cannot score these features ({mismatch}); judged on the gate alone"
    p = loaded.predict(model_input(frame))
    return evaluate(data.validation["label"].to_numpy(), p, data.validation.select(SUBGROUPS), cfg.min_group_class_rows), None


def store_model_card(registry: ModelRegistry, measure: str, run_id: str, version: int, card: str) -> None:
    """The card as the version's description (shown by the MLflow UI) and as `model_card.md` in its run."""
    client = registry.client()
    with registry.session():
        client.log_text(run_id, card, "model_card.md")
    client.update_model_version(model_name(measure), str(version), description=card)
