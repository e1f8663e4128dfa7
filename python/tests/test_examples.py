"""The examples run as a user runs them, on the real data, and write their figures."""

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    "script, figures, says",
    [
        ("physlite_jets.py", ["physlite_jets_pt_fine.png", "physlite_jets_pt_residual.png"], "OK for midpoint and dither"),
        ("nanoaod_jets.py", ["nanoaod_jet_pt.png"], "Jet_pt"),
        ("coffea_processor.py", ["coffea_jet_pt.png"], "188"),
    ],
)
def test_example_runs(tmp_path, script, figures, says):
    # each example takes [FILE] [OUTDIR]; by default the real file and ./out/python
    cmd = [sys.executable, str(EXAMPLES / script)]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert says in r.stdout, r.stdout
    for f in figures:
        png = tmp_path / "out" / "python" / f
        assert png.exists() and png.stat().st_size > 10_000, png
