"""Three model families behind one interface: `fit(X, y, sample_weight)` and `predict_proba(X)`, seeded and CPU-only.

- logistic: one-hot (centred) categoricals and median-imputed, standardised numerics with missing indicators, then
  L2 logistic regression; the interpretable baseline, and the one explained exactly.
- gbt: histogram gradient boosting on ordinal-coded categoricals (native categorical splits) and raw numerics (NaN allowed),
  averaged over member folds, each fold's model stopping early on the members it did not learn from.
- mlp: a small PyTorch network on the logistic preprocessing, weighted log-loss, early stopping on held-out members.
All families honour `sample_weight` (the recency weights from `dataset.decay_weights`). Early stopping holds out whole
members (`groups`), never random rows: a member brings a row per as-of month with nearly the same features and outcome,
so a hold-out of rows shares members with training, its loss keeps falling and the fit never stops.
"""

import numpy as np
import pandas as pd
import polars as pl
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils.validation import has_fit_parameter

from assets.modeling.dataset import CATEGORICAL, NUMERIC, model_input, reference_values
from assets.modeling.gates import GateConfig

FAMILIES = ("logistic", "gbt", "mlp")
MAX_THREADS = 2
GBT_MAX_CATEGORIES = 250  # histogram boosting splits on at most 255 bins; rarer categories share one code


class CareGapModel:
    """One family's pipeline behind the common interface, remembering a typical training member for explanations."""

    def __init__(self, family: str, pipeline: Pipeline) -> None:
        self.family = family
        self.pipeline = pipeline

    def fit(self, X: pd.DataFrame | pl.DataFrame, y: ArrayLike, sample_weight: np.ndarray | None = None,
            groups: ArrayLike | None = None) -> "CareGapModel":
        """Fit on the feature columns of X; y is 1 (still open) or 0 (closed); `groups` names each row's member (None: every
        row its own member), so families that stop early hold out whole members."""
        inputs = model_input(X)
        self.reference_ = reference_values(inputs)
        params = {"model__sample_weight": sample_weight}
        if groups is not None and has_fit_parameter(self.pipeline["model"], "groups"):
            params["model__groups"] = np.asarray(groups)
        self.pipeline.fit(inputs, np.asarray(y, dtype=np.int64), **params)
        return self

    def predict_proba(self, X: pd.DataFrame | pl.DataFrame) -> np.ndarray:
        """(n, 2) probabilities of closed and still open."""
        return self.pipeline.predict_proba(model_input(X))


def member_ranks(groups: ArrayLike | None, rows: int) -> np.ndarray:
    """Each row's member numbered by first appearance (None: each row its own member).

    Hold-outs drawn from these numbers follow the row order, which `training_frame` fixes from the model's columns, not
    the pseudonyms: every installation draws its own pseudonym key and must still hold out the same members.
    """
    if groups is None:
        return np.arange(rows)
    _, first, inverse = np.unique(np.asarray(groups), return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse]


def linear_preprocessor(min_frequency: int) -> ColumnTransformer:
    """Centred one-hot categoricals (rare ones pooled) and median-imputed, standardised numerics with missing indicators."""
    one_hot = Pipeline([("encode", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=min_frequency, sparse_output=False)),
                        ("centre", StandardScaler(with_std=False))])
    numeric = Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)), ("scale", StandardScaler())])
    return ColumnTransformer([("categorical", one_hot, CATEGORICAL), ("numeric", numeric, NUMERIC)])


class TorchMLP(ClassifierMixin, BaseEstimator):
    """A small feed-forward network on preprocessed features: weighted log-loss, AdamW, early stopping, at most two threads."""

    def __init__(self, hidden: tuple[int, ...] = (32, 16), dropout: float = 0.2, learning_rate: float = 1e-3, weight_decay: float = 1e-2,
                 batch_size: int = 256, max_epochs: int = 30, patience: int = 5, validation_fraction: float = 0.15, seed: int = 0) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.seed = seed

    def _network(self, width: int) -> torch.nn.Sequential:
        """Linear-ReLU-dropout blocks of the `hidden` sizes, then one logit."""
        layers: list[torch.nn.Module] = []
        for size in self.hidden:
            layers += [torch.nn.Linear(width, size), torch.nn.ReLU(), torch.nn.Dropout(self.dropout)]
            width = size
        return torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))

    def _loss(self, X: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Weighted mean log-loss, so recency weights shape the fit as they do for the other families."""
        logits = self.network_(X).squeeze(1)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, y, weight=w, reduction="sum") / w.sum()

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None, groups: ArrayLike | None = None) -> "TorchMLP":
        """Train from a fixed seed; keep the weights of the epoch with the lowest loss on a seeded share of held-out members."""
        torch.set_num_threads(min(MAX_THREADS, torch.get_num_threads()))
        torch.manual_seed(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        features = torch.as_tensor(np.asarray(X, dtype=np.float32))
        target = torch.as_tensor(np.asarray(y, dtype=np.float32))
        weight = torch.as_tensor(np.ones(len(target)) if sample_weight is None else np.asarray(sample_weight), dtype=torch.float32)
        members = torch.as_tensor(member_ranks(groups, len(target)))
        count = int(members.max()) + 1
        is_held = torch.isin(members, torch.randperm(count, generator=generator)[:max(1, int(count * self.validation_fraction))])
        held, train = is_held.nonzero().squeeze(1), (~is_held).nonzero().squeeze(1)
        self.network_ = self._network(features.shape[1])
        optimiser = torch.optim.AdamW(self.network_.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        best, best_loss, waited = {k: v.clone() for k, v in self.network_.state_dict().items()}, float("inf"), 0
        for epoch in range(self.max_epochs):
            self.network_.train()
            for batch in train[torch.randperm(len(train), generator=generator)].split(self.batch_size):
                optimiser.zero_grad()
                self._loss(features[batch], target[batch], weight[batch]).backward()
                optimiser.step()
            self.network_.eval()
            with torch.no_grad():
                loss = self._loss(features[held], target[held], weight[held]).item()
            if loss < best_loss - 1e-5:
                best, best_loss, waited = {k: v.clone() for k, v in self.network_.state_dict().items()}, loss, 0
            elif (waited := waited + 1) >= self.patience:
                break
        self.network_.load_state_dict(best)
        self.network_.eval()
        self.n_epochs_ = epoch + 1
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, 2) probabilities from the sigmoid of the network's output."""
        torch.set_num_threads(min(MAX_THREADS, torch.get_num_threads()))
        with torch.no_grad():
            p = torch.sigmoid(self.network_(torch.as_tensor(np.asarray(X, dtype=np.float32))).squeeze(1)).double().numpy()
        return np.column_stack([1 - p, p])


class MemberFoldBoosting(ClassifierMixin, BaseEstimator):
    """Histogram boosting averaged over `folds` member folds; each fold's model stops early on the members it left out.

    Every member is learnt from by all but one model, and the average cancels much of the variance a single fit has on
    a label as noisy as whether a gap closes within six months. `boosting` holds HistGradientBoostingClassifier's settings.
    """

    def __init__(self, folds: int = 5, categorical_features: list[int] | None = None, boosting: dict | None = None, seed: int = 0) -> None:
        self.folds = folds
        self.categorical_features = categorical_features
        self.boosting = boosting
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None, groups: ArrayLike | None = None) -> "MemberFoldBoosting":
        """One early-stopped model per fold of members (numbered by first appearance, assigned round-robin)."""
        if self.folds < 2:
            raise ValueError(f"gbt folds must be at least 2 (one to learn from, one to stop on), got {self.folds}")
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        fold = member_ranks(groups, len(y)) % self.folds
        self.estimators_ = []
        for k in range(self.folds):
            held = fold == k
            model = HistGradientBoostingClassifier(categorical_features=self.categorical_features, random_state=self.seed,
                                                   early_stopping=True, **(self.boosting or {}))
            model.fit(X[~held], y[~held], sample_weight=weight[~held], X_val=X[held], y_val=y[held], sample_weight_val=weight[held])
            self.estimators_.append(model)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The fold models' mean probabilities."""
        return np.mean([model.predict_proba(X) for model in self.estimators_], axis=0)


def _logistic(params: dict, seed: int) -> Pipeline:
    """L2 logistic regression on the linear preprocessing."""
    model = LogisticRegression(C=params["C"], max_iter=params["max_iter"], random_state=seed)
    return Pipeline([("preprocess", linear_preprocessor(params["min_frequency"])), ("model", model)])


def _gbt(params: dict, seed: int) -> Pipeline:
    """Member-fold boosting with native categorical splits on ordinal codes; numerics get a missing flag and -1 for missing.

    Filling (rather than passing NaN through) keeps a column that is empty for the whole training set, such as
    days since a screening for members whose gap is open, from breaking the histogram binning.
    """
    codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, max_categories=GBT_MAX_CATEGORIES)
    missing = SimpleImputer(strategy="constant", fill_value=-1.0, add_indicator=True, keep_empty_features=True)
    encode = ColumnTransformer([("categorical", codes, CATEGORICAL), ("numeric", missing, NUMERIC)])
    boosting = {k: v for k, v in params.items() if k != "folds"}
    model = MemberFoldBoosting(params["folds"], list(range(len(CATEGORICAL))), boosting, seed)
    return Pipeline([("preprocess", encode), ("model", model)])


def _mlp(params: dict, seed: int) -> Pipeline:
    """The torch network on the same preprocessing as logistic."""
    settings = {k: v for k, v in params.items() if k != "min_frequency"} | {"hidden": tuple(params["hidden"])}
    return Pipeline([("preprocess", linear_preprocessor(params["min_frequency"])), ("model", TorchMLP(seed=seed, **settings))])


BUILDERS = {"logistic": _logistic, "gbt": _gbt, "mlp": _mlp}


def build_model(family: str, config: GateConfig) -> CareGapModel:
    """An unfitted model of `family` with the hyper-parameters and seed from gates.yaml."""
    if family not in BUILDERS:
        raise ValueError(f"unknown model family {family!r}; known families: {', '.join(FAMILIES)}")
    return CareGapModel(family, BUILDERS[family](config.families[family], config.seed))
