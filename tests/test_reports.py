"""Validation and monitoring reports and the researcher's workspace, on the least state they need (tests/report_state.py):
the validation report asset renders a registered version with papermill, keeps notebook and HTML, logs the HTML to MLflow
and prints no member; the monitoring report renders each scored month in the score job; the exploration notebook runs;
any asset loads by key through Dagster's definitions and the access rules.
"""

import gc
import hashlib
from pathlib import Path

import nbformat
import polars as pl
import pytest

from resources.access import AccessDenied
from resources.environment import settings
from resources.feeds.synthetic import SyntheticConfig, canary_tokens
from tests.report_state import MEASURE, SCORED_MONTHS, gold_tables, monitoring_reports, reviewed_model, state_folder, validation_report

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("## Data", "## Discrimination", "## Calibration", "## Subgroups", "## Feature importance", "## Drift versus training", "## Gate decision")
MONITORING_SECTIONS = ("## Model", "## Feature drift", "## Prediction distribution", "## Performance", "## Checks")


def outputs(notebook: Path) -> list[dict]:
    return [o for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "code" for o in cell.outputs]


def leaked(text: str) -> list[str]:
    """Member pseudonyms of the report state and the session plan's planted canary identifiers found in `text`."""
    s = settings()
    canaries = canary_tokens(SyntheticConfig(seed=s.seed, members=s.members, months=s.months, end_date=s.end_date))
    return [token for token in [*gold_tables()[0]["member_key"], *canaries] if token in text]


@pytest.fixture
def report_defs(monkeypatch):
    """The code location built on the report state, as `definitions.defs` (where the workspace finds it)."""
    import definitions

    home, _ = reviewed_model()
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    monkeypatch.setattr(definitions, "defs", definitions.build_definitions())
    return home


def test_the_report_asset_keeps_the_notebook_and_its_html_and_logs_the_html_to_the_versions_run():
    meta = validation_report()
    home, resources = reviewed_model()
    html, notebook = Path(meta["html"]), Path(meta["notebook"])
    assert html.parent == notebook.parent == home / "reports" / "validation" / MEASURE / "v1"
    assert meta["html_sha256"] == hashlib.sha256(html.read_bytes()).hexdigest()
    assert meta["parameters"] == {"measure": MEASURE, "model_name": f"caregap_{MEASURE}", "model_version": 1, "workbench_home": str(home),
                                  "train_months": [f"2025-{m:02d}" for m in range(1, 9)], "validation_months": ["2025-09", "2025-10", "2025-11"]}
    run_id = resources["model_registry"].version(MEASURE, "champion").run_id
    assert meta["mlflow_run"] == resources["model_registry"].run_link(run_id)
    assert meta["mlflow_artifact"] == f"runs:/{run_id}/reports/validation_report.html"
    assert meta["report"] == f"{meta['mlflow_run']}/artifactPath/reports/validation_report.html"
    assert [a.path for a in resources["model_registry"].client().list_artifacts(run_id, "reports")] == ["reports/validation_report.html"]
    page = html.read_text()
    assert all(f">{title.removeprefix('## ')}<" in page for title in SECTIONS) and "review_split(" not in page, "readers see outputs, not code"


def test_the_executed_report_shows_every_section_with_figures_and_no_error_warning_or_member():
    notebook = Path(validation_report()["notebook"])
    found = outputs(notebook)
    assert not [o for o in found if o.output_type == "error" or o.get("name") == "stderr"]
    assert sum("image/png" in o.get("data", {}) for o in found) == 3  # ROC and precision-recall, calibration, importance
    text = notebook.read_text()
    assert all(title in text for title in SECTIONS)
    assert "Decision: **promote** (no champion; candidate passed every gate" in text
    assert not leaked(text) and not leaked(Path(validation_report()["html"]).read_text())


def test_the_monitoring_report_asset_keeps_notebook_and_html_per_scored_month():
    home, resources = reviewed_model()
    reports, registry = monitoring_reports(), resources["model_registry"]
    run_id = registry.version(MEASURE, "champion").run_id
    assert list(reports) == list(SCORED_MONTHS)
    logged = {a.path for month in SCORED_MONTHS for a in registry.client().list_artifacts(run_id, f"reports/monitoring/{month}")}
    assert logged == {f"reports/monitoring/{month}/monitoring_report.html" for month in SCORED_MONTHS}, "each month's HTML on the scoring version's run"
    for month, meta in reports.items():
        assert meta["model"] == f"caregap_{MEASURE} v1"
        assert meta["report"] == registry.artifact_link(run_id, f"reports/monitoring/{month}/monitoring_report.html")
        html, notebook = Path(meta["html"]), Path(meta["notebook"])
        assert html.parent == notebook.parent == home / "reports" / "monitoring" / MEASURE / month
        assert (html.name, notebook.name) == ("monitoring_report.html", "monitoring_report.ipynb")
        assert meta["html_sha256"] == hashlib.sha256(html.read_bytes()).hexdigest()
        assert meta["parameters"] == {"measure": MEASURE, "as_of_month": month, "workbench_home": str(home)}
        page = html.read_text()
        assert all(f">{title.removeprefix('## ')}<" in page for title in MONITORING_SECTIONS) and "judge_month(" not in page, "outputs, not code"


def test_the_monitoring_report_shows_every_section_figures_checks_and_no_error_warning_or_member():
    from assets.monitors import CHECKS

    latest = monitoring_reports()[SCORED_MONTHS[-1]]
    notebook = Path(latest["notebook"])
    found = outputs(notebook)
    assert not [o for o in found if o.output_type == "error" or o.get("name") == "stderr"]
    assert sum("image/png" in o.get("data", {}) for o in found) == 4  # PSI per feature, histograms, scores per month, ROC AUC per month
    text = notebook.read_text()
    assert all(title in text for title in MONITORING_SECTIONS) and all(name in text for name in CHECKS)
    assert f"as-of month **{SCORED_MONTHS[-1]}**" in text and "version **1** (logistic)" in text
    assert all(month in text for month in SCORED_MONTHS), "scores and performance month by month"
    assert "realized ROC AUC" in text, "labels of the planted months are known at once"
    assert not leaked(text) and not leaked(Path(latest["html"]).read_text())


def test_explore_notebook_compares_a_variant_with_the_champion_on_its_months(tmp_path):
    import papermill

    from assets.notebook_render import KERNEL

    home, _ = reviewed_model()
    out = tmp_path / "explore.ipynb"
    with state_folder(home):
        papermill.execute_notebook(str(ROOT / "notebooks" / "explore.ipynb"), str(out), parameters={"measure": MEASURE, "variant_C": 0.5},
                                   kernel_name=KERNEL, cwd=str(ROOT / "notebooks"), progress_bar=False)
    found = outputs(out)
    assert not [o for o in found if o.output_type == "error" or o.get("name") == "stderr"]
    assert any("image/png" in o.get("data", {}) for o in found)
    printed = "".join(o.get("text", "") for o in found)
    assert "champion: version 1 (logistic), judged on 2025-09, 2025-10, 2025-11" in printed
    assert "no asset 'gold/feature'; did you mean gold/features?" in printed
    validation = gold_tables()[0]["as_of_month"].is_in(["2025-09-01", "2025-10-01", "2025-11-01"])
    assert f"{(~validation).sum():,} training and {validation.sum():,} validation member-months" in printed
    assert "promote: " in printed or "keep the champion: " in printed
    assert not leaked(out.read_text())


def test_load_reads_any_asset_by_key_and_partition_through_the_pipelines_io_manager(report_defs):
    from assets.workspace import UnknownAsset, load, load_partitions

    features, labels = gold_tables()
    september = load("gold/features", "2025-09-01")
    assert september.height == features.filter(pl.col("as_of_month") == "2025-09-01").height > 0
    assert load("gold/labels").height == labels.height, "no partition: every partition"
    stacked = load_partitions("gold/labels", ["2025-05-01", "2025-01-01", "2025-02-01"])["as_of_month"]
    assert stacked[0] == "2025-05-01" and set(stacked) == {"2025-05-01", "2025-01-01", "2025-02-01"}
    months = ["2025-09-01", "2025-10-01"]
    in_months = features.filter(pl.col("as_of_month").is_in(months))
    some = in_months["member_key"].unique().sort().head(3).to_list()
    only = load_partitions("gold/features", months, members=some)
    assert set(only["member_key"]) == set(some) and only.height == in_months.filter(pl.col("member_key").is_in(some)).height < in_months.height
    assert load("governance/promotion_ledger")["action"].to_list() == ["promote"]
    for key, partition, message in (("gold/feature", None, "no asset 'gold/feature'; did you mean gold/features?"),
                                    ("gold/features", "2025-09", "gold/features has no partition '2025-09'; did you mean 2025-09-01?"),
                                    ("governance/promotion_ledger", "2025-09-01", "governance/promotion_ledger is not partitioned")):
        with pytest.raises(UnknownAsset) as raised:
            load(key, partition)
        assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_load_applies_the_readers_access_rules_and_a_denial_leaves_the_session_usable(report_defs, monkeypatch):
    import definitions
    from assets.workspace import load

    as_service = load("gold/features", "2025-09-01")
    monkeypatch.setenv("WORKBENCH_PRINCIPAL", "researcher")
    as_researcher = load("gold/features", "2025-09-01")
    assert as_researcher.height == as_service.height and not as_researcher["as_of"].equals(as_service["as_of"])
    with pytest.raises(AccessDenied, match=r"researcher \(researcher\) may not read governance.promotion_ledger"):
        load("governance/promotion_ledger")
    gc.collect()  # the failed load's contexts are released now, as a notebook kernel would release them
    assert definitions.build_definitions().resolve_all_asset_keys(), "definitions still load after a failed read"


def test_permutation_importance_finds_the_planted_signal_and_calibration_bins_cover_every_row():
    import numpy as np

    from assets.modeling.dataset import FEATURE_COLUMNS
    from assets.modeling.families import build_model
    from assets.modeling.gates import GateConfig
    from assets.review_metrics import calibration_bins, permutation_importance
    from tests.test_modeling import SIGNAL, planted

    data = planted(n=3000, seed=2)
    train, held = data[:2000], data[2000:]
    model = build_model("logistic", GateConfig.load()).fit(train, train["label"], np.ones(train.height))
    y, predict = held["label"].to_numpy(), lambda frame: model.predict_proba(frame)[:, 1]
    assert set(permutation_importance(predict, held, y)["feature"].head(2)) == SIGNAL
    calls: list[int] = []

    def counted(frame: pl.DataFrame) -> np.ndarray:
        calls.append(frame.height)
        return predict(frame)

    bounded = permutation_importance(counted, held, y, batch_rows=5 * held.height)
    assert max(calls) == 5 * held.height and len(calls) == 1 + -(-len(FEATURE_COLUMNS) // 5)
    assert bounded.equals(permutation_importance(predict, held, y, batch_rows=len(FEATURE_COLUMNS) * held.height))
    bins = calibration_bins(y, predict(held))
    assert bins["rows"].sum() == held.height and bins["bin"].is_between(0, 9).all() and bins["observed"].is_between(0, 1).all()
