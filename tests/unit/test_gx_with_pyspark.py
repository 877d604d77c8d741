"""With pyspark installed (the `spark` extra, which the set-up installs), importing the suites from a `python -c`
process neither ends the process (pyspark's Spark Connect modules call sys.exit(0) there when grpc is missing) nor
prints pyspark's pandas FutureWarning on a build's stderr (expectations/__init__.py)."""

import importlib.util
import subprocess
import sys

from tests.helpers import ROOT


def test_the_suites_import_from_python_c_with_pyspark_installed():
    assert importlib.util.find_spec("pyspark") is not None, "pyspark missing: run the README's set-up (spark extra)"
    r = subprocess.run([sys.executable, "-c", "import expectations.suites, great_expectations; print('imported')"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "imported", (r.stdout, r.stderr[-2000:])
    assert "Skipping doctests" not in r.stderr and "FutureWarning" not in r.stderr, r.stderr[-2000:]
