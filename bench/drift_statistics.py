"""Feature-drift throughput and agreement, with Evidently's DataDriftPreset (PSI stattest) as the side-by-side peer.

Generates a seeded reference and current frame (40 features: 10 continuous, 10 small counts, 5 day counts, 5 flags,
10 categorical) with drift injected into four known columns, writes both to parquet under `$WORKBENCH_HOME/bench/`,
then times `reference` + `feature_drift` and Evidently on those same files, each in its own process (peak memory is
that process's VmHWM, see bench/measure.py). Evidently runs in a virtualenv of its own, created on first use at
`$WORKBENCH_HOME/bench/evidently-venv`, so it never enters the project environment.

    python -m bench.drift_statistics --rows 1000000
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from assets.monitoring.drift import feature_drift, psi, reference
from assets.monitoring.thresholds import FAIL, PASS, MonitoringThresholds
from bench.measure import peak_mib, run_json
from bench.table import Row, load_average, markdown, times
from resources.environment import settings

INJECTED = {"num_00": "mean shift (+0.6 sd)", "num_01": "variance change (sd x 1.8)", "cat_00": "category mix (shares reversed)",
            "num_02": "null-rate jump (2 % -> 25 %)"}
PEER_PACKAGES = ("evidently", "pandas<3", "pyarrow")  # Evidently 0.7 imports pandas internals that pandas 3 removed
PEER_SCRIPT = Path(__file__).with_name("drift_peer_evidently.py")
REPEATS = 3
TARGET_SECONDS = 1.0  # the aim for 40 features x 1M rows


def _nullable(values: np.ndarray | pl.Series, rate: float, rng: np.random.Generator) -> pl.Series:
    series = pl.Series(values)
    return series.scatter(np.flatnonzero(rng.random(series.len()) < rate), None)


def _categories(rng: np.random.Generator, rows: int, k: int, prefix: str, mixed: bool) -> pl.Series:
    """k categories with Zipf-like shares, reversed when `mixed`."""
    shares = 1 / np.arange(1, k + 1) ** 1.1
    shares = shares[::-1] if mixed else shares
    codes = rng.choice(k, size=rows, p=shares / shares.sum())
    return _nullable(pl.Series([f"{prefix}{j:03}" for j in range(k)]).gather(codes), 0.01, rng)


def synthetic_frame(rows: int, seed: int, drifted: bool) -> pl.DataFrame:
    """The benchmark's 40 features; `drifted` injects the four shifts named in INJECTED and leaves the rest alone."""
    rng = np.random.default_rng(seed)
    loc, scale, null_rate = np.arange(5.0) * 10, 1 + np.arange(5) / 4, np.full(5, 0.02)
    if drifted:
        loc[0], scale[1], null_rate[2] = loc[0] + 0.6 * scale[0], scale[1] * 1.8, 0.25
    columns = {f"num_{i:02}": _nullable(rng.normal(loc[i], scale[i], rows), null_rate[i], rng) for i in range(5)}
    columns |= {f"num_{i:02}": _nullable(rng.lognormal(0, 0.2 * i, rows), 0.02, rng) for i in range(5, 10)}
    columns |= {f"cnt_{i:02}": pl.Series(rng.poisson(0.5 + i, rows)).cast(pl.UInt32) for i in range(10)}
    columns |= {f"days_{i:02}": _nullable(rng.integers(0, 730 * (i + 1), rows), 0.2, rng).cast(pl.Int32) for i in range(5)}
    columns |= {f"flag_{i:02}": pl.Series(rng.random(rows) < 0.1 + 0.15 * i) for i in range(5)}
    columns |= {f"cat_{i:02}": _categories(rng, rows, 3 + 9 * i, f"c{i}_", drifted and i == 0) for i in range(10)}
    return pl.DataFrame(columns)


def feature_kinds(frame: pl.DataFrame) -> dict[str, list[str]]:
    """Text columns are categorical; numbers and flags are numeric, as in the workbench's feature list."""
    categorical = [c for c, t in frame.schema.items() if t == pl.String]
    return {"numeric": [c for c in frame.columns if c not in categorical], "categorical": categorical}


def measure_ours(reference_path: str, current_path: str, kinds: dict[str, list[str]]) -> dict:
    """Runs in a fresh process: load both files, then the median of REPEATS timings of `reference` and `feature_drift`."""
    reference_frame, current_frame = pl.read_parquet(reference_path), pl.read_parquet(current_path)
    loaded = peak_mib()
    reference_s, drift_s = [], []
    for _ in range(REPEATS):
        start = time.perf_counter()
        ref = reference(reference_frame, kinds["numeric"], kinds["categorical"])
        middle = time.perf_counter()
        drift = feature_drift(ref, current_frame)
        reference_s.append(middle - start)
        drift_s.append(time.perf_counter() - middle)
    return {"reference_seconds": statistics.median(reference_s), "drift_seconds": statistics.median(drift_s),
            "peak_rss_mib": peak_mib(), "loaded_rss_mib": loaded, "psi": dict(zip(drift["feature"], drift["psi"]))}


def peer_python(venv: Path) -> Path | None:
    """The Evidently virtualenv's python, created and installed on first use; None, said in one line, if that fails."""
    python = venv / "bin" / "python"
    if python.exists() and not subprocess.run([python, "-c", "import evidently"], capture_output=True, check=False).returncode:
        return python
    for step in ([sys.executable, "-m", "venv", "--clear", str(venv)],
                 [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PEER_PACKAGES]):
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode:
            reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
            print(f"Evidently peer not run: `{' '.join(step[2:4])}` failed in {venv} ({reason})")
            return None
    return python


def _as_pandas_reads(values: pl.Series) -> np.ndarray:
    """The non-null values in the dtype pandas reads them in: integers with nulls become float64. It matters: numpy's
    Sturges rule keeps the bins of integer data at least 1 wide."""
    array = values.to_numpy()
    return array[~np.isnan(array)] if array.dtype.kind == "f" else array


def evidently_shares(reference_values: pl.Series, current_values: pl.Series, categorical: bool) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current shares per bin as Evidently 0.7 bins them for PSI (legacy/calculations/stattests/utils.py,
    get_binned_data), reproduced with numpy and polars.

    Evidently drops nulls first; a numeric column with more than 20 distinct reference values gets equal-width Sturges
    bins over reference and current together (its `n_bins` argument is not used there, and no option sets the edges),
    every other column one bin per value seen on either side.
    """
    ref, cur = reference_values.drop_nulls(), current_values.drop_nulls()
    if not categorical and ref.n_unique() > 20:
        ref_values, cur_values = _as_pandas_reads(reference_values), _as_pandas_reads(current_values)
        edges = np.histogram_bin_edges(np.concatenate((ref_values, cur_values)), bins="sturges")
        return np.histogram(ref_values, edges)[0] / ref.len(), np.histogram(cur_values, edges)[0] / cur.len()
    counts = ref.value_counts(name="reference").join(cur.value_counts(name="current"), on=ref.name, how="full",
                                                     coalesce=True).fill_null(0)
    return counts["reference"].to_numpy() / ref.len(), counts["current"].to_numpy() / cur.len()


def evidently_filled(shares: np.ndarray) -> np.ndarray:
    """Evidently's empty-bin rule: an empty share becomes 1e-4, or the smallest share / 1e6 if that share is at most 1e-4
    (`psi` instead clips every share at 1e-4)."""
    smallest = shares[shares > 0].min()
    return np.where(shares == 0, smallest / 1e6 if smallest <= 1e-4 else 1e-4, shares)


def memory(run: dict) -> str:
    return f"{run['peak_rss_mib'] / 1024:.2f} GiB ({run['loaded_rss_mib'] / 1024:.2f} once both files were loaded)"


def largest_gap(ours: dict[str, float], theirs: dict[str, float]) -> str:
    column = max(ours, key=lambda c: abs(ours[c] - theirs[c]))
    return f"{abs(ours[column] - theirs[column]):.1e} ({column})"


def detection_rows(ours: dict[str, float], theirs: dict[str, float] | None, cfg: MonitoringThresholds, load: float) -> list[Row]:
    """One row per injected drift, then how many untouched columns reached warn, judged at the configured thresholds."""
    def judged(values: dict[str, float] | None, column: str) -> str:
        if values is None:
            return "n/a"
        level = cfg.psi_threshold(column).level(values[column])
        return f"PSI {values[column]:.3f} {level}, {'caught' if level == FAIL else 'missed'}"

    def flagged(values: dict[str, float] | None) -> str:
        if values is None:
            return "n/a"
        untouched = [c for c in values if c not in INJECTED]
        return f"{sum(cfg.psi_threshold(c).level(values[c]) != PASS for c in untouched)} of {len(untouched)}"

    levels = f"(PSI warn {cfg.feature_psi.warn} / fail {cfg.feature_psi.fail}; caught = fail)"
    out = [Row(f"drift detection, injected {kind} in `{column}` {levels}", judged(ours, column), judged(theirs, column), load=load)
           for column, kind in INJECTED.items()]
    return out + [Row(f"drift detection, untouched columns at warn or fail {levels}", flagged(ours), flagged(theirs), load=load)]


def rows(n_rows: int, seed: int = 20261101) -> list[Row]:
    """Both sides on the same parquet files, each in its own process; the peer's PSI compared on its own and on equal bins."""
    home = settings().home / "bench"
    home.mkdir(parents=True, exist_ok=True)
    reference_frame, current_frame = synthetic_frame(n_rows, seed, False), synthetic_frame(n_rows, seed + 1, True)
    paths = [str(home / f"drift_{name}_{n_rows}.parquet") for name in ("reference", "current")]
    reference_frame.write_parquet(paths[0])
    current_frame.write_parquet(paths[1])
    kinds = feature_kinds(reference_frame)
    load = load_average()
    ours = run_json([sys.executable, "-m", "bench.drift_statistics", "--measure", *paths, json.dumps(kinds)], timeout=600)
    if ours is None:
        return [Row("feature drift: the workbench side FAILED", "its error is printed above")]
    python = peer_python(home / "evidently-venv")
    peer_load = load_average()
    theirs = run_json([str(python), str(PEER_SCRIPT), *paths, json.dumps(kinds)], timeout=3600) if python else None
    seconds = ours["reference_seconds"] + ours["drift_seconds"]
    scale = (f"{reference_frame.width} features ({len(kinds['numeric'])} numeric, {len(kinds['categorical'])} categorical) x "
             f"{n_rows:,} current rows against {n_rows:,} reference rows")
    out = [
        Row(f"feature drift, {scale}: reference bins (once per model) + drift, against Evidently `DataDriftPreset(method=\"psi\")`",
            f"{ours['reference_seconds']:.2f} + {ours['drift_seconds']:.2f} = {seconds:.2f} s, {n_rows / seconds:,.0f} rows/s (median of {REPEATS})",
            f"{theirs['seconds']:.1f} s, {n_rows / theirs['seconds']:,.0f} rows/s (1 run)" if theirs else "n/a",
            times(seconds, theirs["seconds"]) if theirs else "", f"< {TARGET_SECONDS:.0f} s", seconds < TARGET_SECONDS, load, peer_load),
        Row(f"feature drift, {scale}: peak memory of the measuring process", memory(ours), memory(theirs) if theirs else "n/a",
            f"{theirs['peak_rss_mib'] / ours['peak_rss_mib']:.1f}x ours" if theirs else "", load=load, peer_load=peer_load),
    ]
    if theirs:
        shares = {c: evidently_shares(reference_frame[c], current_frame[c], c in kinds["categorical"]) for c in reference_frame.columns}
        equal = {c: psi(*shares[c]) for c in shares}
        replica = {c: psi(evidently_filled(shares[c][0]), evidently_filled(shares[c][1]), epsilon=0.0) for c in shares}
        out += [Row(f"largest \\|PSI ours - PSI Evidently\\| over the {len(shares)} columns, {how}", largest_gap(values, theirs["psi"]), load=load)
                for how, values in (("each on its own binning (not equal)", ours["psi"]),
                                    ("Evidently's bins reproduced, our `psi` (clips at 1e-4)", equal),
                                    ("Evidently's bins and its empty-bin rule (checks the reproduction)", replica))]
    return out + detection_rows(ours["psi"], theirs["psi"] if theirs else None, MonitoringThresholds.configured(), load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument("--measure", nargs=3, metavar=("REFERENCE", "CURRENT", "KINDS_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_ours(args.measure[0], args.measure[1], json.loads(args.measure[2]))))
        return
    print(markdown(rows(args.rows, args.seed)))


if __name__ == "__main__":
    main()
