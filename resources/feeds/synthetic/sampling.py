"""Random draws: one reproducible stream per purpose, and picks from (value, weight) lists."""

from __future__ import annotations

import zlib

import numpy as np

from resources.feeds.synthetic.config import SyntheticConfig


def _rng(cfg: SyntheticConfig, stream: str) -> np.random.Generator:
    """An independent reproducible stream per purpose (and per block of members), so no feed depends on which others
    were generated; block 0 draws exactly what a plan generated in one block draws."""
    entropy = [cfg.seed, zlib.crc32(stream.encode())] + ([cfg.block] if cfg.block else [])
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _pick(rng: np.random.Generator, weighted: tuple, size: int) -> np.ndarray:
    """Indices into a (value, weight) list, drawn by weight."""
    weights = np.array([w for _, w in weighted], dtype=float)
    return rng.choice(len(weighted), size, p=weights / weights.sum())


def _values(weighted: tuple) -> np.ndarray:
    """The values of a (value, weight) list."""
    return np.array([v for v, _ in weighted])


def _choose(rng: np.random.Generator, weighted: tuple, size: int) -> np.ndarray:
    """Values from a (value, weight) list, drawn by weight."""
    return _values(weighted)[_pick(rng, weighted, size)]
