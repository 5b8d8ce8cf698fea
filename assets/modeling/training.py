"""Train every family on one measure's time split, judge each on the validation months, and pick the candidate.

Plain functions over polars frames: the training asset calls them, and so can a notebook.
"""

import hashlib
import time
from dataclasses import dataclass

import polars as pl

from assets.modeling.dataset import FEATURE_COLUMNS, decay_weights, time_split
from assets.modeling.evaluation import SUBGROUPS, evaluate, roc_auc
from assets.modeling.families import FAMILIES, CareGapModel, build_model
from assets.modeling.gates import GateConfig, GateResult, gate

GATE_METRICS = ("roc_auc", "pr_auc", "pr_auc_lift", "brier", "ece", "calibration_slope", "max_subgroup_auc_gap")


@dataclass(frozen=True)
class Split:
    """The rows a candidate learned from and the rows it was judged on."""

    train: pl.DataFrame
    validation: pl.DataFrame

    @property
    def train_months(self) -> list[str]:
        return _months(self.train)

    @property
    def validation_months(self) -> list[str]:
        return _months(self.validation)


@dataclass(frozen=True)
class Candidate:
    family: str
    model: CareGapModel
    metrics: dict
    gate: GateResult
    fit_seconds: float


def _months(frame: pl.DataFrame) -> list[str]:
    return frame["as_of"].dt.strftime("%Y-%m").unique().sort().to_list()


def content_hash(frame: pl.DataFrame) -> str:
    """SHA-256 of the rows as CSV in key order: the same training snapshot gets the same digest, whatever the library version."""
    return hashlib.sha256(frame.sort("member_key", "as_of").write_csv().encode()).hexdigest()


def split(frame: pl.DataFrame, cfg: GateConfig) -> Split:
    return Split(*time_split(frame, cfg.validation_months))


def judge(model: CareGapModel, validation: pl.DataFrame, cfg: GateConfig) -> tuple[dict, GateResult]:
    """Every gate metric of `model` on the validation rows, and the gate verdict."""
    metrics = evaluate(validation["label"].to_numpy(), model.predict_proba(validation)[:, 1], validation.select(SUBGROUPS), cfg.min_group_class_rows)
    return metrics, gate(metrics, cfg)


def fit_candidate(family: str, data: Split, cfg: GateConfig) -> Candidate:
    """Fit one family with recency weights on the training months (holding out whole members to stop early) and judge it."""
    started = time.perf_counter()
    weights = decay_weights(data.train["as_of"], cfg.half_life_months)
    model = build_model(family, cfg).fit(data.train.select(FEATURE_COLUMNS), data.train["label"].to_numpy(), sample_weight=weights,
                                         groups=data.train["member_key"].to_numpy())
    seconds = time.perf_counter() - started
    return Candidate(family, model, *judge(model, data.validation, cfg), seconds)


def fit_candidates(data: Split, cfg: GateConfig, families: tuple[str, ...] = FAMILIES) -> list[Candidate]:
    return [fit_candidate(family, data, cfg) for family in families]


def choose(candidates: list[Candidate]) -> Candidate:
    """The gate-passing candidate with the highest validation ROC AUC; if none passes, the best one (to be refused)."""
    ranked = sorted(candidates, key=lambda c: (c.gate.passed, c.metrics["roc_auc"] or 0.0), reverse=True)
    return ranked[0]


def best_achievable_auc(validation: pl.DataFrame, truths: pl.DataFrame, truth_column: str) -> float | None:
    """ROC AUC of the generator's true propensity on the validation rows (higher propensity, gap less likely to stay open).

    The ceiling a model can reach from the hidden truth alone; rows of members without a truth are left out.
    """
    joined = validation.select("member_key", "label").join(truths.select("member_key", truth_column), on="member_key", how="inner")
    return roc_auc(joined["label"].to_numpy(), -joined[truth_column].cast(pl.Float64).to_numpy())


def candidates_table(candidates: list[Candidate], chosen: Candidate) -> pl.DataFrame:
    """One row per family with every gate metric, the verdict and fit time; the chosen family marked."""
    return pl.DataFrame([{"family": c.family + (" (chosen)" if c is chosen else ""), **{k: c.metrics[k] for k in GATE_METRICS},
                          "gate": "pass" if c.gate.passed else "fail", "fit_s": round(c.fit_seconds, 1)} for c in candidates])
