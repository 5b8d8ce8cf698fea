"""MLflow as a resource: the tracking store and model registry every training, scoring and rollback goes through.

Embedded default: a SQLite store and an artifact folder under the workbench state folder; production points
`tracking_uri` at a tracking server (WORKBENCH_MLFLOW_URI). mlflow is imported inside the methods, so loading the
code location stays fast.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from resources.environment import MLFLOW_UI_DEFAULT
from resources.object_store import is_s3

CHAMPION, CHALLENGER = "champion", "challenger"
URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
S3_ENDPOINT_VARIABLE = "MLFLOW_S3_ENDPOINT_URL"  # read by MLflow's S3 artifact store on every transfer
MODEL_PREFIX = "caregap_"


def model_name(measure: str) -> str:
    """The registered model that serves `measure`."""
    return f"{MODEL_PREFIX}{measure}"


class ModelRegistry(dg.ConfigurableResource):
    """One MLflow tracking store and registry; `artifact_root` (a folder or an s3:// prefix) is where the experiment
    created on first use keeps its artifacts, reached at `s3_endpoint_url` for an S3-compatible store."""

    tracking_uri: str
    artifact_root: str | None = None
    s3_endpoint_url: str | None = None
    ui_url: str = MLFLOW_UI_DEFAULT
    experiment: str = "caregap-workbench"

    @contextmanager
    def session(self) -> Iterator[Any]:
        """The mlflow module pointed at this store (tracking and registry) for the duration of the block.

        mlflow keeps the URIs in globals and exports them as environment variables (inherited by every subprocess);
        both are put back as they were, so nothing outside the block talks to this store by accident. The S3 endpoint
        reaches MLflow only as an environment variable, so it is set for the block and put back the same way: artifact
        transfers belong inside a session.
        """
        import mlflow

        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        prior = {name: os.environ.get(name) for name in (*URI_VARIABLES, S3_ENDPOINT_VARIABLE)}
        if self.s3_endpoint_url:
            os.environ[S3_ENDPOINT_VARIABLE] = self.s3_endpoint_url
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        try:
            yield mlflow
        finally:
            mlflow.set_tracking_uri(prior["MLFLOW_TRACKING_URI"])
            mlflow.set_registry_uri(prior["MLFLOW_REGISTRY_URI"])
            for name, value in prior.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def experiment_id(self) -> str:
        """The workbench experiment, created on first use with its artifacts under `artifact_root`."""
        client = self.client()
        found = client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        location = self.artifact_root if not self.artifact_root or is_s3(self.artifact_root) else Path(self.artifact_root).resolve().as_uri()
        return client.create_experiment(self.experiment, artifact_location=location, tags={"project": "caregap-workbench"})

    def version(self, measure: str, alias: str) -> Any | None:
        """The model version behind `alias` for `measure`, or None when the alias (or the model) does not exist."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client().get_model_version_by_alias(model_name(measure), alias)
        except MlflowException:
            return None

    def set_alias(self, measure: str, alias: str, version: int) -> None:
        self.client().set_registered_model_alias(model_name(measure), alias, str(version))

    def load(self, measure: str, reference: str | int = CHAMPION) -> Any:
        """The pyfunc model at `models:/caregap_<measure>@<alias>`, or `/<version>` when `reference` is a version number."""
        reference = str(reference)
        separator = "/" if reference.isdigit() else "@"
        with self.session() as mlflow:
            return mlflow.pyfunc.load_model(f"models:/{model_name(measure)}{separator}{reference}")

    def run_link(self, run_id: str) -> str:
        """The run's page in the MLflow UI at `ui_url`, for a click from the Dagster UI."""
        return f"{self.ui_url}/#/experiments/{self.experiment_id()}/runs/{run_id}"

    def artifact_link(self, run_id: str, path: str) -> str:
        """One artifact of a run opened in the MLflow UI's viewer (HTML renders there, plots and all)."""
        return f"{self.run_link(run_id)}/artifactPath/{path}"
