"""Models: one training asset per measure (three families, gated, registered in MLflow) and the promotion ledger.

Each training run fits logistic, gradient-boosted and PyTorch candidates on the time split, judges them on the
validation months, registers the best as a new version of `caregap_<measure>`, and lets the gate and the current
champion decide its alias; the decision is appended to the promotion ledger that governance reads.
"""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from assets.gold import labelled_member_rows
from assets.measures import measures
from assets.modeling.gates import GateConfig
from assets.modeling.promotion import LEDGER, LEDGER_DESCRIPTIONS, LEDGER_SCHEMA, ledger
from assets.policy import PHI_NONE, PRINCIPAL_TAG, column_schema, markdown_table, tags
from checks.gates import gate_check_results, gate_check_specs
from resources.audit import AuditTrail, current_principal
from resources.feeds import FeedSource
from resources.model_registry import CHAMPION, ModelRegistry, model_name
from resources.vault import KeyVault
from resources.warehouse import Warehouse

OWNERS = ["team:ml-platform"]
# Steps that write the MLflow registry take turns: two processes creating a fresh SQLite store fail (alembic migrations
# race), and promotions and rollbacks of a champion alias never interleave. The instance limits it to 1 (cli.instance_yaml, deploy/).
MLFLOW_POOL = "mlflow_registry"


def _truth_ceiling(feed_source: FeedSource, vault: KeyVault, measure: str, validation: pl.DataFrame) -> float | None:
    """Best achievable validation ROC AUC from the generator's hidden truth (None for real feeds)."""
    from assets.modeling.training import best_achievable_auc
    from resources.feeds.synthetic import TRUTH_BY_MEASURE

    truths = feed_source.true_propensities(vault.pseudonym_key())
    return None if truths is None else best_achievable_auc(validation, truths, TRUTH_BY_MEASURE[measure])


def model_asset(measure: str) -> dg.AssetsDefinition:
    key = dg.AssetKey(["models", measure])
    title = measures()[measure].title

    @dg.asset(
        key=key, deps=[["gold", "features"], ["gold", "labels"]], group_name="models", owners=OWNERS,
        kinds={"mlflow", "scikitlearn", "pytorch"}, tags=tags("models", PHI_NONE), pool=MLFLOW_POOL,
        check_specs=gate_check_specs(key),
        description=f"{title}: logistic, gradient-boosted and PyTorch models trained on earlier as-of months and judged on the latest "
                    f"labelled ones; the best is registered as a version of `{model_name(measure)}` in MLflow and becomes `champion` only "
                    "if it passes every gate and beats the current champion by the margin (assets/modeling/gates.yaml).",
    )
    def _model(context: dg.AssetExecutionContext, model_registry: ModelRegistry, warehouse: Warehouse, audit: AuditTrail,
               vault: KeyVault, feed_source: FeedSource) -> Iterator:
        from assets.modeling.dataset import training_frame
        from assets.modeling.release import release
        from assets.modeling.training import candidates_table

        principal = context.run.tags.get(PRINCIPAL_TAG, current_principal())
        r = release(measure, training_frame(*labelled_member_rows(warehouse, measure), measure), GateConfig.configured(), model_registry,
                    warehouse, audit, principal, context.run_id)
        ceiling = _truth_ceiling(feed_source, vault, measure, r.data.validation)
        serving = model_registry.version(measure, CHAMPION)
        context.log.info(f"{model_name(measure)} v{r.version} ({r.chosen.family}, {r.data.train.height:,} training rows): "
                         f"{r.entry['action']}, {r.decision.reason}")
        yield dg.MaterializeResult(metadata={
            "model": model_name(measure), "version": r.version, "family": r.chosen.family, "decision": r.entry["action"],
            "reason": r.decision.reason + (f" ({r.incomparable})" if r.incomparable else ""),
            "champion_version": int(serving.version) if serving else None,
            "mlflow_run": dg.MetadataValue.url(model_registry.run_link(r.run_id)), "model_uri": f"models:/{model_name(measure)}/{r.version}",
            "candidate_roc_auc": r.chosen.metrics["roc_auc"], "champion_roc_auc": r.champion_roc_auc, "best_achievable_roc_auc": ceiling,
            "champion_gap_to_best_achievable": None if ceiling is None or r.champion_roc_auc is None else ceiling - r.champion_roc_auc,
            "candidates": markdown_table(candidates_table(r.candidates, r.chosen)),
            "train_months": ", ".join(r.data.train_months), "validation_months": ", ".join(r.data.validation_months),
            "training_snapshot_sha256": r.training_hash, "ledger_seq": r.entry["seq"], "model_card": dg.MetadataValue.md(r.card),
        })
        yield from gate_check_results(key, r.chosen.gate, champion_serving=serving is not None)

    return _model


MODELS = [model_asset(measure) for measure in measures()]


@dg.asset(
    key=["governance", "promotion_ledger"], deps=[m.key for m in MODELS], group_name="governance", owners=["team:governance"],
    kinds={"duckdb", "mlflow"}, tags=tags("governance", PHI_NONE),
    description="Every promotion, refusal and rollback of a `champion` alias, append-only (MLflow aliases keep no history): model, "
                "from and to version, reason, gate results, who or what triggered it, when. Rollback reads it to find the previous "
                "approved version; each entry is also in the hash-chained audit trail.",
    metadata={"dagster/column_schema": column_schema(LEDGER_SCHEMA, LEDGER_DESCRIPTIONS)},
)
def promotion_ledger(warehouse: Warehouse) -> dg.MaterializeResult:
    frame = ledger(warehouse)
    latest = frame.group_by("model").agg(pl.all().sort_by("seq").last()).sort("model")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": frame.height, "table": ".".join(LEDGER),
        "latest_per_model": markdown_table(latest.select("model", "seq", "action", "from_version", "to_version", "triggered_by", "recorded_at")),
    })


class RollbackConfig(dg.Config):
    measure: str
    reason: str


@dg.op(description="Move `champion` back to the previous approved version through the promotion ledger, and record why.", pool=MLFLOW_POOL)
def roll_back_champion(context: dg.OpExecutionContext, config: RollbackConfig, model_registry: ModelRegistry, warehouse: Warehouse,
                       audit: AuditTrail) -> None:
    from assets.modeling.promotion import NoPreviousVersion, rollback

    triggered_by = context.run.tags.get("dagster/sensor_name") or context.run.tags.get(PRINCIPAL_TAG, current_principal())
    try:
        entry = rollback(model_registry, warehouse, audit, config.measure, config.reason, triggered_by, context.run_id)
    except NoPreviousVersion as refused:
        raise dg.Failure(description=str(refused)) from None
    context.log.info(f"{entry['model']}: champion v{entry['from_version']} -> v{entry['to_version']} ({config.reason})")
    context.add_output_metadata({"from_version": entry["from_version"], "to_version": entry["to_version"], "ledger_seq": entry["seq"]})


@dg.job(name="rollback", tags={"workbench/kind": "governance"},
        description="Roll one measure's champion back to its previous approved version (requested by the degradation sensor or a person).")
def rollback_job() -> None:
    roll_back_champion()
