import os

import pytest

os.environ.setdefault("REPRODUCE_NO_PROGRESS", "1")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty, private data folder (REPRODUCE_DATA_DIR)."""
    d = tmp_path / "data"
    monkeypatch.setenv("REPRODUCE_DATA_DIR", str(d))
    return d
