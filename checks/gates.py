"""The evaluation gate as blocking asset checks on each model asset, one per gate group in gates.yaml.

A failed gate is an ERROR (blocking scoring) only when no approved champion would serve; when an earlier champion keeps
serving, the refused candidate is a WARN and scoring goes on with the champion, which the ledger records.
"""

import dagster as dg

from assets.modeling.gates import GateResult

GATE_GROUPS = {
    "discrimination": "Validation ROC AUC and PR AUC lift over the base rate reach their minimums.",
    "calibration": "Brier score and expected calibration error under their maximums; calibration slope within its band.",
    "fairness": "The widest ROC AUC gap between groups of sex, age band or line of business is under its maximum.",
}


def gate_check_specs(key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(f"{group}_gate", asset=key, blocking=True, description=f"{text} Thresholds: assets/modeling/gates.yaml.")
            for group, text in GATE_GROUPS.items()]


def gate_check_results(key: dg.AssetKey, result: GateResult, champion_serving: bool) -> list[dg.AssetCheckResult]:
    """One result per group with each metric's value and threshold; severity as described in the module docstring."""
    severity = dg.AssetCheckSeverity.WARN if champion_serving else dg.AssetCheckSeverity.ERROR
    out = []
    for group in GATE_GROUPS:
        checks = {name: check for name, check in result.checks.items() if check["group"] == group}
        failed = [name for name, check in checks.items() if not check["passed"]]
        out.append(dg.AssetCheckResult(
            asset_key=key, check_name=f"{group}_gate", passed=not failed, severity=severity,
            description="; ".join(f for f in result.failures if f.startswith(group)) or f"every {group} gate passed",
            metadata={name: dg.MetadataValue.json({k: check[k] for k in ("value", "rule", "threshold", "passed")}) for name, check in checks.items()},
        ))
    return out
