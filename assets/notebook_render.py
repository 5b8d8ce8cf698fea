"""Notebooks as reports: execute a parameterised notebook with papermill on the workbench kernel, keep the executed
notebook, and export HTML without code for readers (nbconvert's `--no-input`), with the HTML's SHA-256 for the record.
"""

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from resources.environment import PROJECT_ROOT

KERNEL = "caregap-workbench"  # registered inside the venv by `make` (python -m ipykernel install --sys-prefix)
NOTEBOOKS = PROJECT_ROOT / "notebooks"


@dataclass(frozen=True)
class Rendered:
    notebook: Path
    html: Path
    sha256: str
    seconds: float


def render(notebook: Path, parameters: dict, out_dir: Path, title: str) -> Rendered:
    """Execute `notebook` with `parameters` into `out_dir` and write its outputs (not its code) beside it as HTML.

    A failing cell raises papermill's PapermillExecutionError naming it; the executed notebook is still kept to read why.
    """
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / notebook.name
    papermill.execute_notebook(str(notebook), str(executed), parameters=parameters, kernel_name=KERNEL, cwd=str(NOTEBOOKS), progress_bar=False)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4), resources={"metadata": {"name": title}})
    html = executed.with_suffix(".html")
    html.write_text(body, encoding="utf-8")
    return Rendered(executed, html, hashlib.sha256(html.read_bytes()).hexdigest(), time.perf_counter() - started)
