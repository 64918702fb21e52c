"""The notebooks run top to bottom (their cells assert funcgrad against PyTorch and JAX)."""
import glob
import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

HERE = os.path.join(os.path.dirname(__file__), "..", "notebooks")
NOTEBOOKS = sorted(glob.glob(os.path.join(HERE, "*.ipynb")))


def test_there_are_five_notebooks():
    assert len(NOTEBOOKS) == 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_executes(path):
    nb = nbformat.read(path, as_version=4)
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "stored without outputs"
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": HERE}})
    client.execute()  # raises CellExecutionError on any failing cell or assert
