"""One release of a measure's model: train every family, register the best, let the gates and the champion decide, ledger
it and store its model card. The training asset calls this; so do the tests and a notebook that wants the same record.
"""

from dataclasses import dataclass

import polars as pl

from assets.modeling.families import FAMILIES
from assets.modeling.gates import Decision, GateConfig, promotion_decision
from assets.modeling.model_card import model_card
from assets.modeling.promotion import record_decision
from assets.modeling.tracking import champion_metrics, log_and_register, store_model_card
from assets.modeling.training import Candidate, Split, choose, content_hash, fit_candidates, split
from resources.audit import AuditTrail
from resources.model_registry import ModelRegistry
from resources.warehouse import Warehouse


@dataclass(frozen=True)
class Release:
    data: Split
    candidates: list[Candidate]
    chosen: Candidate
    champion: dict | None
    incomparable: str | None
    decision: Decision
    training_hash: str
    run_id: str
    version: int
    entry: dict
    card: str

    @property
    def champion_roc_auc(self) -> float | None:
        """ROC AUC on the validation rows of whichever version serves after the decision."""
        return self.chosen.metrics["roc_auc"] if self.decision.promote else (self.champion or {}).get("roc_auc")


def release(measure: str, frame: pl.DataFrame, cfg: GateConfig, registry: ModelRegistry, warehouse: Warehouse, audit: AuditTrail,
            triggered_by: str, dagster_run_id: str | None, families: tuple[str, ...] = FAMILIES, decision: Decision | None = None) -> Release:
    """Train, judge, register and decide for `measure` on its training frame; `decision` overrides the gate's (tests only)."""
    data = split(frame, cfg)
    candidates = fit_candidates(data, cfg, families)
    chosen = choose(candidates)
    champion, incomparable = champion_metrics(registry, measure, data, cfg)
    decision = decision or promotion_decision(chosen.metrics, champion, chosen.gate, cfg)
    training_hash = content_hash(data.train)
    run_id, version = log_and_register(registry, measure, data, candidates, chosen, cfg, training_hash, dagster_run_id)
    entry = record_decision(registry, warehouse, audit, measure, version, decision, chosen.gate, triggered_by, dagster_run_id)
    card = model_card(measure, version, data, chosen, decision, f"runs:/{run_id}")
    store_model_card(registry, measure, run_id, version, card)
    return Release(data, candidates, chosen, champion, incomparable, decision, training_hash, run_id, version, entry, card)
