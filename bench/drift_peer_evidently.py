"""The peer of bench/drift_statistics.py: Evidently's DataDriftPreset with its PSI stattest on the same parquet files.

Runs inside the benchmark's own virtualenv (Evidently never enters the project environment), so it imports only
pandas and Evidently. Prints one JSON line: seconds for the report (`Dataset.from_pandas` + `Report.run`), peak RSS
(VmHWM: ru_maxrss would start from the parent's size) at the end and once both files were loaded, and Evidently's PSI
per column.

    <venv>/bin/python bench/drift_peer_evidently.py reference.parquet current.parquet '{"numeric": [...], "categorical": [...]}'
"""

import json
import sys
import time
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def peak_mib() -> float:
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def main() -> None:
    reference_path, current_path, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    reference, current = pd.read_parquet(reference_path), pd.read_parquet(current_path)
    for frame in (reference, current):  # Evidently's numeric summary cannot subtract booleans: flags go in as 0/1
        frame[frame.columns[frame.dtypes == bool]] = frame.select_dtypes(bool).astype("int8")
    loaded = peak_mib()
    definition = DataDefinition(numerical_columns=spec["numeric"], categorical_columns=spec["categorical"])
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset(method="psi")]).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    seconds = time.perf_counter() - start
    psi = {metric["config"]["column"]: float(metric["value"]) for metric in snapshot.dict()["metrics"]
           if metric["config"]["type"].endswith(":ValueDrift")}
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_mib(), "loaded_rss_mib": loaded, "psi": psi}))


if __name__ == "__main__":
    main()
