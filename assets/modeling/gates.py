"""Release gates: the thresholds in gates.yaml, the checks a candidate model must pass, and the champion comparison.

Every check fails closed: a metric that could not be computed (one class only, no subgroup large enough) is a failure.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

GATES_FILE = Path(__file__).with_name("gates.yaml")
GATES_ENV = "WORKBENCH_GATES"


@dataclass(frozen=True)
class GateConfig:
    """Thresholds and the training settings they assume (validation window, recency half-life, seed, family hyper-parameters)."""

    min_roc_auc: float
    min_pr_auc_lift: float
    max_brier: float
    max_ece: float
    calibration_slope: tuple[float, float]
    max_subgroup_auc_gap: float
    min_group_class_rows: int
    promotion_margin: float
    validation_months: int
    half_life_months: float
    seed: int
    families: dict[str, dict]

    @classmethod
    def load(cls, path: Path = GATES_FILE) -> "GateConfig":
        """Read the YAML; an unknown or missing key is an error, so a typo cannot silently drop a gate."""
        raw = yaml.safe_load(path.read_text())
        flat = raw["discrimination"] | raw["calibration"] | raw["fairness"] | raw["promotion"] | raw["training"]
        return cls(**flat | {"calibration_slope": tuple(flat["calibration_slope"]), "families": raw["families"]})

    @classmethod
    def configured(cls) -> "GateConfig":
        """The gates in force: the file named by WORKBENCH_GATES, else gates.yaml beside this module."""
        return cls.load(Path(os.environ.get(GATES_ENV) or GATES_FILE))


@dataclass(frozen=True)
class GateResult:
    """Whether every check passed, a readable line per failure, and each check's group, value and threshold for the record."""

    passed: bool
    failures: list[str]
    checks: dict[str, dict]


@dataclass(frozen=True)
class Decision:
    """Whether to replace the champion, and why, in words a reviewer can check against the numbers."""

    promote: bool
    reason: str


def _check(group: str, value: float | None, low: float | None, high: float | None) -> dict:
    """One check: value within [low, high] (either bound optional), with the threshold as written in gates.yaml."""
    rule, threshold = ("band", [low, high]) if low is not None and high is not None else ("min", low) if high is None else ("max", high)
    passed = value is not None and (low is None or value >= low) and (high is None or value <= high)
    return {"group": group, "rule": rule, "passed": passed, "value": value, "threshold": threshold}


def _failure(name: str, check: dict) -> str:
    """A failure line naming the metric, its value and the threshold it broke."""
    value, threshold, rule = check["value"], check["threshold"], check["rule"]
    if value is None:
        return f"{check['group']}: {name} could not be computed ({rule} {threshold})"
    broke = {"min": f"below minimum {threshold}", "max": f"above maximum {threshold}", "band": f"outside {threshold}"}[rule]
    return f"{check['group']}: {name} = {value:.4f} {broke}"


def gate(metrics: dict, cfg: GateConfig) -> GateResult:
    """Judge `evaluate` metrics against every threshold: discrimination, calibration and fairness must all pass."""
    checks = {
        "roc_auc": _check("discrimination", metrics["roc_auc"], cfg.min_roc_auc, None),
        "pr_auc_lift": _check("discrimination", metrics["pr_auc_lift"], cfg.min_pr_auc_lift, None),
        "brier": _check("calibration", metrics["brier"], None, cfg.max_brier),
        "ece": _check("calibration", metrics["ece"], None, cfg.max_ece),
        "calibration_slope": _check("calibration", metrics["calibration_slope"], *cfg.calibration_slope),
        "max_subgroup_auc_gap": _check("fairness", metrics["max_subgroup_auc_gap"], None, cfg.max_subgroup_auc_gap),
    }
    failures = [_failure(name, check) for name, check in checks.items() if not check["passed"]]
    return GateResult(passed=not failures, failures=failures, checks=checks)


def promotion_decision(candidate: dict, champion: dict | None, gate_result: GateResult, cfg: GateConfig) -> Decision:
    """Promote a gated candidate only over no champion or by at least the margin in ROC AUC (metrics on the same validation rows)."""
    if not gate_result.passed:
        return Decision(False, "candidate failed the gate: " + "; ".join(gate_result.failures))
    if champion is None:
        return Decision(True, f"no champion; candidate passed every gate with ROC AUC {candidate['roc_auc']:.4f}")
    needed = champion["roc_auc"] + cfg.promotion_margin
    verdict = ">=" if candidate["roc_auc"] >= needed else "<"
    return Decision(verdict == ">=", f"candidate ROC AUC {candidate['roc_auc']:.4f} {verdict} champion {champion['roc_auc']:.4f} "
                                     f"+ margin {cfg.promotion_margin} = {needed:.4f}")
