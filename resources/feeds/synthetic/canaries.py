"""Canaries: distinctive identifiers planted on a few members so leak tests can scan every output for them."""

from __future__ import annotations

import numpy as np
import polars as pl

from resources.feeds.synthetic.config import SyntheticConfig


def _canary_rows(rng: np.random.Generator, cfg: SyntheticConfig, covered: np.ndarray, age: np.ndarray, chronic: np.ndarray) -> np.ndarray:
    """Members enrolled throughout with a chronic condition, so their identifiers travel through every feed."""
    candidates = np.flatnonzero(covered.all(axis=1) & (age >= 40) & (chronic > 0))
    return np.sort(rng.choice(candidates, min(cfg.canaries, candidates.size), replace=False))


def _canary_names(count: int) -> tuple[list[str], list[str]]:
    """The planted last names and phone numbers, numbered from 1."""
    return [f"Zqxcanary{k:04d}" for k in range(1, count + 1)], [f"999-555-{k:04d}" for k in range(1, count + 1)]


def _with_canaries(ids: pl.DataFrame, canary: np.ndarray) -> pl.DataFrame:
    """Plant the canary last names and phone numbers on the chosen members."""
    names, phones = _canary_names(canary.size)
    return ids.with_columns(ids["last_name"].scatter(canary, names), ids["phone"].scatter(canary, phones))
