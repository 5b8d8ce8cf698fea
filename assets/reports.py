"""Reports: a validation report for every newly registered model version and a monitoring report for every scored month,
executed with papermill and rendered to HTML.

Each `reports/validation/<measure>` asset runs after its model's training in the `train` job and renders
notebooks/validation_report.ipynb for the version that training just registered. The executed notebook and the
code-free HTML stay under `$WORKBENCH_HOME/reports/validation/<measure>/v<version>/`, the HTML is also logged to the
version's MLflow run, and the asset's metadata links both with the HTML's SHA-256 and the notebook's parameters.
Each `reports/monitoring/<measure>` partition runs after that month's monitoring in the `score` job and renders
notebooks/monitoring_report.ipynb under `$WORKBENCH_HOME/reports/monitoring/<measure>/<month>/`, logged to the MLflow run of
the version that scored the month. The `report` metadata is a link to the HTML in the MLflow UI (which `make ui` serves
beside Dagster's, or WORKBENCH_MLFLOW_UI_URL), so analysts open a report with one click from the asset page.
"""

from pathlib import Path

import dagster as dg
import polars as pl

from assets.measures import measures
from assets.notebook_render import Rendered
from assets.partitions import as_of_partitions
from assets.policy import PHI_NONE, tags
from resources.environment import settings
from resources.model_registry import ModelRegistry, model_name

OWNERS = ["team:ml-platform"]
VALIDATION_NOTEBOOK = "validation_report.ipynb"
MONITORING_NOTEBOOK = "monitoring_report.ipynb"
ARTIFACT_DIR = "reports"


def validation_report_asset(measure: str) -> dg.AssetsDefinition:
    key = dg.AssetKey(["reports", "validation", measure])

    @dg.asset(
        key=key, deps=[dg.AssetKey(["models", measure])], group_name="reports", owners=OWNERS, kinds={"papermill", "jupyter", "mlflow"},
        tags=tags("reports", PHI_NONE),
        description=f"{measures()[measure].title}: validation report of the version of `{model_name(measure)}` that training just registered: "
                    "data, ROC and precision-recall curves, calibration, subgroup ROC AUC against the fairness gate, permutation importance, "
                    "feature drift (PSI) of the validation months against the training months, and the gate decision with its reasons. Aggregates only. "
                    f"HTML and executed notebook under $WORKBENCH_HOME/reports/validation/{measure}/, the HTML also in the version's MLflow run.",
    )
    def _report(context: dg.AssetExecutionContext, model_registry: ModelRegistry) -> dg.MaterializeResult:
        from assets.model_review import version_record
        from assets.notebook_render import NOTEBOOKS, render

        record = version_record(model_registry, model_name(measure))
        s = settings()
        parameters = {"measure": measure, "model_name": record.model, "model_version": record.version, "train_months": record.train_months,
                      "validation_months": record.validation_months, "workbench_home": str(s.home)}
        rendered = render(NOTEBOOKS / VALIDATION_NOTEBOOK, parameters, s.reports_dir / "validation" / measure / f"v{record.version}",
                          f"Validation report: {record.model} version {record.version}")
        artifact = log_report(model_registry, record.run_id, rendered.html, ARTIFACT_DIR)
        context.log.info(f"{record.model} v{record.version}: validation report at {rendered.html} ({rendered.seconds:.0f} s)")
        return dg.MaterializeResult(metadata={
            "model": record.model, "version": record.version, "mlflow_run": dg.MetadataValue.url(model_registry.run_link(record.run_id)),
            **report_metadata(model_registry, record.run_id, artifact, rendered, parameters),
        })

    return _report


VALIDATION_REPORTS = [validation_report_asset(measure) for measure in measures()]


def log_report(model_registry: ModelRegistry, run_id: str, html: Path, folder: str) -> str:
    """Attach the HTML to the model version's MLflow run, where the MLflow UI renders it; returns its artifact path."""
    with model_registry.session() as mlflow:
        mlflow.MlflowClient().log_artifact(run_id, str(html), folder)
    return f"{folder}/{html.name}"


def report_metadata(model_registry: ModelRegistry, run_id: str, artifact: str, rendered: Rendered, parameters: dict) -> dict:
    """One click to the report in the MLflow UI, the files on disk, and what proves which report it is."""
    return {
        "report": dg.MetadataValue.url(model_registry.artifact_link(run_id, artifact)), "mlflow_artifact": f"runs:/{run_id}/{artifact}",
        "html": dg.MetadataValue.path(str(rendered.html)), "html_sha256": rendered.sha256, "notebook": dg.MetadataValue.path(str(rendered.notebook)),
        "parameters": dg.MetadataValue.json(parameters), "render_seconds": round(rendered.seconds, 1),
    }


def monitoring_report_asset(measure: str) -> dg.AssetsDefinition:
    key = dg.AssetKey(["reports", "monitoring", measure])

    @dg.asset(
        key=key, ins={"monitoring": dg.AssetIn(["monitoring", measure])}, partitions_def=as_of_partitions(), group_name="reports", owners=OWNERS,
        kinds={"papermill", "jupyter", "mlflow"}, tags=tags("reports", PHI_NONE),
        description=f"{measures()[measure].title}: monitoring report of one scored month: the model version that scored it, feature drift "
                    "(PSI per feature against the thresholds, reference-vs-month histograms of the most drifted numeric features), the "
                    "score distribution month by month, estimated and realized ROC AUC month by month, and the four monitoring checks "
                    f"with their reasons, computed by the monitoring asset's own functions. Aggregates only. HTML and executed notebook "
                    f"under $WORKBENCH_HOME/reports/monitoring/{measure}/<month>/, the HTML also in the MLflow run of the version that scored the month.",
    )
    def _report(context: dg.AssetExecutionContext, monitoring: pl.DataFrame, model_registry: ModelRegistry) -> dg.MaterializeResult:
        from assets.model_review import version_record
        from assets.notebook_render import NOTEBOOKS, render

        month, s = context.partition_key, settings()
        record = version_record(model_registry, model_name(measure), int(monitoring["model_version"][0]))
        parameters = {"measure": measure, "as_of_month": month, "workbench_home": str(s.home)}
        rendered = render(NOTEBOOKS / MONITORING_NOTEBOOK, parameters, s.reports_dir / "monitoring" / measure / month,
                          f"Monitoring report: {model_name(measure)} as of {month}")
        artifact = log_report(model_registry, record.run_id, rendered.html, f"{ARTIFACT_DIR}/monitoring/{month}")
        context.log.info(f"{record.model} {month}: monitoring report at {rendered.html} ({rendered.seconds:.0f} s)")
        return dg.MaterializeResult(metadata={"model": f"{record.model} v{record.version}",
                                              **report_metadata(model_registry, record.run_id, artifact, rendered, parameters)})

    return _report


MONITORING_REPORTS = [monitoring_report_asset(measure) for measure in measures()]
