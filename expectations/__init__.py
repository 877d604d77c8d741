"""One Great Expectations suite per published table, and the adapter that runs them.

Great Expectations imports pyspark's optional modules when pyspark is installed (cmsref's `spark` extra). Two of
them misbehave on import, so both are dealt with here, before any suite imports Great Expectations:
- pyspark's Spark Connect modules, imported without grpc from a process whose main module is neither a file nor a
  module (`python -c ...`, as the tests' child processes and embedding programs run), take themselves to be running
  doctests and end the whole process with `sys.exit(0)` ("Skipping doctests: No module named 'grpc'"). In exactly
  that case they are marked as not importable, which Great Expectations handles as "no Spark Connect".
- pyspark warns on import that it does not yet fully support pandas 3 (a FutureWarning on every build's stderr):
  cmsref's suites never run on Spark, so that one warning is silenced.
"""

import importlib.util
import sys
import warnings


def _main_is_neither_file_nor_module() -> bool:
    main = sys.modules.get("__main__")
    return main is not None and getattr(main, "__spec__", None) is None and not hasattr(main, "__file__") \
        and not hasattr(sys, "ps1")


if (importlib.util.find_spec("pyspark") is not None and importlib.util.find_spec("grpc") is None
        and _main_is_neither_file_nor_module()):
    for _name in ("pyspark.sql.connect.dataframe", "pyspark.sql.connect.session"):
        sys.modules.setdefault(_name, None)  # `import` of a None entry raises ImportError

warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
