"""A care-gap model as an MLflow pyfunc: what the registry stores and `models:/caregap_<measure>@champion` loads.

The signature lists every feature column with its model-input type, so a frame that lacks a column or brings an
unknown one is refused before any prediction (`check_signature`). Imports mlflow: load only where MLflow is used.
"""

from importlib.metadata import version
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from assets.modeling.dataset import FEATURE_COLUMNS, model_input
from assets.modeling.families import CareGapModel

REQUIREMENTS = ("mlflow", "scikit-learn", "torch", "polars", "pandas", "numpy", "cloudpickle")


class SignatureMismatch(ValueError):
    """A scoring frame whose columns are not the model's input signature."""


class CareGapPyfunc(mlflow.pyfunc.PythonModel):
    """Predicts the probability that each member's open gap is still open at the label horizon."""

    def __init__(self, model: CareGapModel) -> None:
        self.model = model

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> np.ndarray:
        return self.model.predict_proba(model_input)[:, 1]


def pip_requirements() -> list[str]:
    """Exact pins of what the pickled model needs (inference would drop torch's CPU build label and add noise)."""
    return [f"{name}=={version(name).split('+')[0]}" for name in REQUIREMENTS]


def log_care_gap_model(model: CareGapModel, name: str = "model") -> Any:
    """Log `model` in the active run with its signature; returns MLflow's ModelInfo.

    The input example is the typical training member (medians and commonest values), not any real member's row.
    """
    example = model_input(pd.DataFrame([model.reference_], columns=FEATURE_COLUMNS))
    signature = infer_signature(example, model.predict_proba(example)[:, 1])
    return mlflow.pyfunc.log_model(name=name, python_model=CareGapPyfunc(model), signature=signature, input_example=example,
                                   pip_requirements=pip_requirements())


def check_signature(loaded: Any, columns: list[str]) -> None:
    """Refuse a frame whose columns differ from the signature, naming what is missing and what is unexpected."""
    expected = loaded.metadata.get_input_schema().input_names()
    missing, unexpected = [c for c in expected if c not in columns], [c for c in columns if c not in expected]
    if missing or unexpected:
        raise SignatureMismatch(f"scoring frame does not match the model signature (run {loaded.metadata.run_id}): "
                                f"missing {missing or 'none'}, unexpected {unexpected or 'none'}")


def unwrap(loaded: Any) -> CareGapModel:
    """The CareGapModel inside a loaded pyfunc, for explanations."""
    return loaded.unwrap_python_model().model
