"""docs/analysis.ipynb runs from top to bottom against the current code (its cells assert what they show)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NEEDED = ("nbclient", "nbformat", "ipykernel", "matplotlib", "SALib")


@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in NEEDED),
                    reason="the notebook needs " + ", ".join(NEEDED))
@pytest.mark.slow
def test_analysis_notebook_executes(monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    # the kernel must import this checkout of ciminus, whichever way the tests were started
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(ROOT / "docs" / "analysis.ipynb", as_version=4)
    assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), "commit it without outputs"
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "docs")}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4, "the heatmap, Pareto, breakdown and sensitivity figures"
    text = "".join(o.get("text", "") for o in outputs)
    assert "front:" in text and "backend: cpu" in text
