"""Fixtures of the dcor_stream tests. They test the package that Python
imports (the installed wheel when .ci/pytest.sh runs them), the way users
call it; the data are small, so that every call takes a few milliseconds."""

import os
import pathlib

import numpy as np
import pytest

import dcor_stream

REPO = pathlib.Path(__file__).resolve().parents[2]
ACTIVATIONS = str(REPO / "testdata" / "activations.arrow")  # model_a (64), model_b (32), noise (16), label: n = 1000


@pytest.fixture
def rng():
    return np.random.default_rng(20261207)


@pytest.fixture
def xyz(rng):
    """Three dependent spaces of n = 60 samples: y depends on x, z on both."""
    n = 60
    x = rng.normal(size=(n, 3))
    y = np.c_[x[:, 0] ** 2, x[:, 1], x[:, 0] * x[:, 2]] + 0.3 * rng.normal(size=(n, 3))
    z = (x[:, :1] + y[:, :1]) + rng.normal(size=(n, 1))
    return x, y, z


@pytest.fixture
def tmpdir_env(tmp_path, monkeypatch):
    """An empty directory that dcor_stream makes its private temporary
    directories in (DCOR_STREAM_TMPDIR), to check what it leaves there."""
    d = tmp_path / "ws"
    d.mkdir()
    monkeypatch.setenv("DCOR_STREAM_TMPDIR", str(d))
    return d


def workspaces(root):
    """The temporary directories of the calls under root, with their files."""
    return {p: sorted(os.listdir(os.path.join(root, p))) for p in os.listdir(root)}


def pytest_report_header(config):
    return f"dcor_stream {dcor_stream.__version__} from {os.path.dirname(dcor_stream.__file__)}, binary {dcor_stream.binary()}"
