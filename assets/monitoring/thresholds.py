"""Monitoring thresholds: the warn and fail levels in thresholds.yaml, or in the file named by WORKBENCH_MONITORING."""

import math
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

THRESHOLDS_FILE = Path(__file__).with_name("thresholds.yaml")
THRESHOLDS_ENV = "WORKBENCH_MONITORING"
PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass(frozen=True)
class Threshold:
    """Warn and fail levels of a statistic where higher is worse."""

    warn: float
    fail: float

    def level(self, value: float) -> str:
        """"fail" at or above `fail`, "warn" at or above `warn`, else "pass"; NaN is an error, never a silent pass."""
        if math.isnan(value):
            raise ValueError(f"cannot judge NaN against warn {self.warn} / fail {self.fail}")
        return FAIL if value >= self.fail else WARN if value >= self.warn else PASS


@dataclass(frozen=True)
class MonitoringThresholds:
    """Every threshold monitoring judges by, and the rows a statistic needs before it is judged at all."""

    feature_psi: Threshold
    feature_psi_by_feature: dict[str, Threshold]
    null_rate_jump: Threshold
    prediction_psi: Threshold
    estimated_auc_drop: Threshold
    realized_auc_drop: Threshold
    min_rows: int

    def psi_threshold(self, feature: str) -> Threshold:
        """The feature's own PSI threshold if it has one, else the default."""
        return self.feature_psi_by_feature.get(feature, self.feature_psi)

    @classmethod
    def load(cls, path: Path = THRESHOLDS_FILE) -> "MonitoringThresholds":
        """Read the YAML; an unknown or missing key is an error, and so is a warn level above its fail level."""
        raw = yaml.safe_load(path.read_text())
        judged = {key: _threshold(path, key, spec) for key, spec in raw.items() if key not in ("feature_psi_by_feature", "min_rows")}
        per_feature = {name: _threshold(path, f"feature_psi_by_feature.{name}", spec)
                       for name, spec in (raw.get("feature_psi_by_feature") or {}).items()}
        return cls(**raw | judged | {"feature_psi_by_feature": per_feature})

    @classmethod
    def configured(cls) -> "MonitoringThresholds":
        """The thresholds in force: the file named by WORKBENCH_MONITORING, else thresholds.yaml beside this module."""
        return cls.load(Path(os.environ.get(THRESHOLDS_ENV) or THRESHOLDS_FILE))


def _threshold(path: Path, key: str, spec: dict) -> Threshold:
    threshold = Threshold(**spec)
    if not threshold.warn <= threshold.fail:
        raise ValueError(f"{path}: {key}: warn {threshold.warn} is above fail {threshold.fail}")
    return threshold
