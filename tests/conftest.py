"""Test session settings: a throwaway state folder and a small synthetic plan, set before any project import."""

import os
import tempfile
from pathlib import Path

import pytest

SESSION_HOME = Path(tempfile.mkdtemp(prefix="workbench-test-"))
os.environ.update({
    "WORKBENCH_HOME": str(SESSION_HOME),
    "DAGSTER_HOME": str(SESSION_HOME / "dagster"),
    "MPLCONFIGDIR": str(SESSION_HOME / "matplotlib"),
    "IPYTHONDIR": str(SESSION_HOME / "ipython"),
    "JUPYTER_CONFIG_DIR": str(SESSION_HOME / "jupyter" / "config"),
    "JUPYTER_RUNTIME_DIR": str(SESSION_HOME / "jupyter" / "runtime"),
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
    "WORKBENCH_MEMBERS": "2000",
    "WORKBENCH_MONTHS": "24",
    "WORKBENCH_LOOKBACK_MONTHS": "6",
    "WORKBENCH_END_DATE": "2026-06-30",
    "WORKBENCH_SEED": "11",
    "WORKBENCH_GATES": str(Path(__file__).with_name("small_plan_gates.yaml")),
})
for name in ("WORKBENCH_FEED_SOURCE", "WORKBENCH_ENV", "WORKBENCH_FAULTS", "WORKBENCH_RAW_KEY", "WORKBENCH_PSEUDONYM_KEY",
             "WORKBENCH_PRINCIPAL", "WORKBENCH_AUDIT_KEY", "MLFLOW_TRACKING_URI", "WORKBENCH_MLFLOW_URI",
             "WORKBENCH_OUTREACH_SIZE", "WORKBENCH_STORAGE_ROOT", "WORKBENCH_INBOX", "WORKBENCH_S3_ENDPOINT_URL"):
    os.environ.pop(name, None)
(SESSION_HOME / "dagster").mkdir(parents=True, exist_ok=True)
(SESSION_HOME / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

SHARED_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


@pytest.fixture
def shared_fixtures() -> Path:
    """The team's shared fixtures beside the project; a user's fresh clone has none, so skip there."""
    if not SHARED_FIXTURES.exists():
        pytest.skip("../shared/fixtures is absent (only the team's machines have it)")
    return SHARED_FIXTURES
