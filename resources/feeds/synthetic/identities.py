"""Direct identifiers: member ids, names, addresses, phones, and provider NPIs."""

from __future__ import annotations

import numpy as np
import polars as pl

from resources.feeds import codes


def _npis(rng: np.random.Generator, size: int) -> np.ndarray:
    """Valid-looking NPIs: nine digits starting 1 or 2 plus the Luhn check digit over the 80840 prefix."""
    digits = rng.integers(0, 10, (size, 9))
    digits[:, 0] = rng.integers(1, 3, size)
    doubled = digits[:, ::2] * 2
    total = 24 + (doubled // 10 + doubled % 10).sum(axis=1) + digits[:, 1::2].sum(axis=1)
    check = (10 - total % 10) % 10
    return digits @ (10 ** np.arange(9, 0, -1)) + check


def _identifiers(rng: np.random.Generator, n: int, female: np.ndarray, region: np.ndarray, prefix: str) -> pl.DataFrame:
    """Direct identifiers: member id, names, street address, ZIP in the member's region, phone with its area code."""
    numbers = 1000 + np.cumsum(rng.integers(1, 1500, n))
    first = np.where(female, np.array(codes.FEMALE_FIRST_NAMES)[rng.integers(0, len(codes.FEMALE_FIRST_NAMES), n)],
                     np.array(codes.MALE_FIRST_NAMES)[rng.integers(0, len(codes.MALE_FIRST_NAMES), n)])
    zip3 = np.array([r.zip3 for r in codes.REGIONS])[region]
    area = np.array([r.area_code for r in codes.REGIONS])[region]
    return pl.DataFrame({
        "member_id": prefix + pl.Series(numbers).cast(pl.String).str.zfill(8),
        "first_name": first,
        "last_name": np.array(codes.LAST_NAMES)[rng.integers(0, len(codes.LAST_NAMES), n)],
        "address_line": pl.Series(rng.integers(1, 9999, n)).cast(pl.String) + " "
        + pl.Series(np.array(codes.STREET_NAMES)[rng.integers(0, len(codes.STREET_NAMES), n)]) + " "
        + pl.Series(np.array(codes.STREET_SUFFIXES)[rng.integers(0, len(codes.STREET_SUFFIXES), n)]),
        "zip": pl.Series(zip3) + pl.Series(rng.integers(0, 100, n)).cast(pl.String).str.zfill(2),
        "phone": pl.Series(area) + "-" + pl.Series(rng.integers(200, 1000, n)).cast(pl.String) + "-"
        + pl.Series(rng.integers(0, 10000, n)).cast(pl.String).str.zfill(4),
    })
