"""`cmsref build` as an operator meets it: a no-op build answers without starting Prefect."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import MIRROR

pytestmark = pytest.mark.integration


def test_a_no_op_build_does_not_start_prefect(mirror_home):
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "cmsref.cli", "build", "--mirror", str(MIRROR)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("nothing new to publish: the sources of "), r.stderr[-2000:]
    assert "starting Prefect" not in r.stderr
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "prefect" not in imported and "flows.build" not in imported
