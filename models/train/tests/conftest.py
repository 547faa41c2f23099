import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def run_module(*args, env=None, timeout=600):
    """python3 -m likeness_train ... in a subprocess, as a user runs it."""
    e = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "likeness_train", *args], env=e, cwd=ROOT,
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"likeness_train {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return p


@pytest.fixture(scope="session")
def micro_ae(tmp_path_factory):
    out = tmp_path_factory.mktemp("ae")
    run_module("train-ae", "--config", "micro", "--identities", "8", "--steps", "30", "--batch", "8",
               "--crop", "64", "--out", str(out))
    return str(out / "ae.pt")
