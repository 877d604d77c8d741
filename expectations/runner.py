"""Run a Great Expectations suite against a polars DataFrame and report the outcome.

This is the one place the pipeline talks to Great Expectations (GX 1.x). Every table is
validated here before it is published::

    result = run_suite(df, "pfs_rvu", [gx.expectations.ExpectColumnValuesToNotBeNull(column="hcpcs")],
                       release="pfs:2024B")
    result.raise_for_failures()          # ValidationError if an error-severity expectation failed
    write_reports([result], out_dir, "PFS 2024B")   # expectations/report.py renders them

How the frame reaches GX (validation only; the published table is untouched):

* polars -> pandas with ``df.to_pandas()`` (pyarrow). Under pandas 3 a polars ``String``
  column becomes the ``str`` dtype (pyarrow-backed, missing values are ``NaN``), so codes such
  as ``"00100"`` stay text and regex/length checks work on them.
* ``pl.Decimal`` columns are cast to ``Float64`` first. pandas has no decimal dtype, so
  they would otherwise arrive as ``object`` columns of ``decimal.Decimal``; GX's row-wise
  checks (between, in-set) cope with that, but its aggregate metrics do not (column mean/sum
  call ``float()`` on every value and raise on the ``None`` of a null). Float64 is exact
  enough for range checks on CMS amounts/RVUs, and makes every numeric expectation usable.
  Consequence: examples and observed values for Decimal columns are floats, and a type check
  on such a column sees ``float64``.
* ``pl.Categorical``/``pl.Enum`` are cast to ``String`` so they validate like text.
* ``pl.Date`` columns become ``datetime.date`` objects (``date_as_object=True``) rather than
  ``datetime64[ms]``: GX coerces ``min_value``/``max_value`` of between-checks to
  ``datetime.date``, and pandas cannot compare a ``datetime64`` column with a ``date``.
* Integer columns that contain nulls become ``float64`` (pandas' default); examples taken
  from them are turned back into ints here, using the polars schema.

The context, datasource, asset and batch definition are created once per process and reused
(under a lock, so concurrent flow tasks can share them). GX's progress bars are switched off
through the context's ``progress_bars`` setting and its INFO logging is silenced.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import logging
import math
import threading
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
import polars as pl

from core.errors import ValidationError

# GX logs hundreds of INFO lines while importing (docs decorators, metric registry) and a few
# more per context; keep only its warnings. This must happen before the import below.
logging.getLogger("great_expectations").setLevel(logging.WARNING)
with warnings.catch_warnings():
    # GX imports the deprecated sre_constants/sre_parse modules.
    warnings.simplefilter("ignore", DeprecationWarning)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation import Expectation
# ...but some GX modules pin their own logger to INFO (data_context.types.base logs a line per
# context); let those inherit the WARNING level set above.
for _name, _logger in list(logging.Logger.manager.loggerDict.items()):
    if (
        _name.startswith("great_expectations.")
        and isinstance(_logger, logging.Logger)
        and logging.NOTSET < _logger.level < logging.WARNING
    ):
        _logger.setLevel(logging.NOTSET)

__all__ = ["ExpectationOutcome", "SuiteResult", "run_suite"]

ERROR = "error"
WARNING = "warning"

_MAX_EXAMPLES = 5
# GX returns the first N unexpected values in row order, duplicates included; ask for more
# than we keep so that up to _MAX_EXAMPLES *distinct* examples survive de-duplication.
_PARTIAL_UNEXPECTED = 20
_RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": _PARTIAL_UNEXPECTED}
_MAX_EXAMPLE_CHARS = 200  # long text values are cut in examples
_INDEX_KEY = "_cmsref_index"  # meta key that maps GX's (reordered) results back to our order


@dataclass
class ExpectationOutcome:
    expectation: str  # e.g. "expect_column_values_to_be_between"
    column: str | None  # or a comma-joined list for multi-column expectations
    kwargs: dict  # the expectation's kwargs (JSON-safe)
    success: bool
    unexpected_count: int | None
    unexpected_percent: float | None  # GX's: percent of the non-null values checked
    examples: list  # up to 5 distinct unexpected values (JSON-safe)
    observed: object | None  # observed_value where GX gives one (e.g. row count)
    severity: str  # "error" or "warning"
    error: str | None = None  # GX raised while evaluating (e.g. missing column); success is False

    def describe(self, table: str) -> str:
        """One line: "<table>: <expectation> on <column> failed: <what>"."""
        where = f" on {self.column}" if self.column else ""
        head = f"{table}: {self.expectation}{where} failed: "
        if self.error:
            return head + f"error: {self.error}"
        if self.unexpected_count is not None:
            pct = "?" if self.unexpected_percent is None else f"{self.unexpected_percent:.4g}"
            text = head + f"{self.unexpected_count} unexpected ({pct}%)"
            if self.examples:
                text += ", e.g. " + _compact(self.examples)
            return text
        args = {k: v for k, v in self.kwargs.items() if k not in ("column", "column_list")}
        details = []
        if self.observed is not None:
            details.append(f"observed {_compact(self.observed)}")
        if args:
            details.append(f"expected {_compact(args)}")
        return head + (", ".join(details) or "no details from Great Expectations")


@dataclass
class SuiteResult:
    table: str
    release: str | None  # e.g. "pfs:2024B"
    row_count: int
    success: bool  # True if no error-severity expectation failed
    outcomes: list[ExpectationOutcome] = field(default_factory=list)

    def failures(self) -> list[ExpectationOutcome]:
        """Error-severity expectations that failed."""
        return [o for o in self.outcomes if not o.success and o.severity == ERROR]

    def warnings(self) -> list[ExpectationOutcome]:
        """Warning-severity expectations that failed."""
        return [o for o in self.outcomes if not o.success and o.severity == WARNING]

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self, include_warnings: bool = False) -> str:
        """One line per failure; with include_warnings, failed warnings follow, marked "[warning]"."""
        lines = [o.describe(self.table) for o in self.failures()]
        if include_warnings:
            lines += ["[warning] " + o.describe(self.table) for o in self.warnings()]
        return "\n".join(lines)

    def raise_for_failures(self) -> None:
        if self.success:
            return
        n = len(self.failures())
        release = self.release if self.release is not None else "no release"
        raise ValidationError(
            f"validation failed for table {self.table} ({release}): "
            f"{n} of {len(self.outcomes)} expectation(s) failed\n{self.summary()}"
        )


# --------------------------------------------------------------------------- GX plumbing

_lock = threading.Lock()
_batch_definition: Any = None


def _get_batch_definition() -> Any:
    """The process-wide whole-dataframe batch definition (context built on first use)."""
    global _batch_definition
    if _batch_definition is None:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        asset = context.data_sources.add_pandas("cmsref").add_dataframe_asset("frame")
        _batch_definition = asset.add_batch_definition_whole_dataframe("whole_frame")
    return _batch_definition


def _to_pandas(df: pl.DataFrame):
    """The frame as pandas for GX; see the module docstring for why each cast is made."""
    casts = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.Decimal):
            casts.append(pl.col(name).cast(pl.Float64))
        elif isinstance(dtype, (pl.Categorical, pl.Enum)):
            casts.append(pl.col(name).cast(pl.String))
    if casts:
        df = df.with_columns(casts)
    return df.to_pandas(date_as_object=True)


def run_suite(
    df: pl.DataFrame,
    table: str,
    expectations: list,
    *,
    release: str | None = None,
    warnings: list | None = None,
) -> SuiteResult:
    """Validate df against expectations (severity "error") and warnings (severity "warning").

    Outcomes come back in the order given: expectations first, then warnings. The caller's
    Expectation objects are not modified (GX binds suite members, so copies are validated).
    """
    if not isinstance(df, pl.DataFrame):
        raise TypeError(f"run_suite needs a polars DataFrame, got {type(df).__name__}")
    given = [(e, ERROR) for e in expectations] + [(e, WARNING) for e in (warnings or [])]
    for exp, _ in given:
        if not isinstance(exp, Expectation):
            raise TypeError(
                f"{table}: expected Great Expectations Expectation objects, got {exp!r}"
            )
    if not given:
        return SuiteResult(table=table, release=release, row_count=df.height, success=True)

    copies = [
        exp.copy(update={"id": None, "meta": {**(exp.meta or {}), _INDEX_KEY: i}})
        for i, (exp, _) in enumerate(given)
    ]
    suite = gx.ExpectationSuite(name=f"cmsref.{table}", expectations=copies)
    pdf = _to_pandas(df)
    with _lock:
        batch = _get_batch_definition().get_batch(batch_parameters={"dataframe": pdf})
        validation = batch.validate(suite, result_format=_RESULT_FORMAT)

    by_index: dict[int, Any] = {}
    for evr in validation.results:
        by_index[int((evr.expectation_config.meta or {})[_INDEX_KEY])] = evr
    if len(by_index) != len(given):  # pragma: no cover - GX dropped or merged a result
        raise RuntimeError(
            f"{table}: Great Expectations returned {len(by_index)} results for {len(given)} expectations"
        )

    schema = df.schema
    outcomes = [_outcome(by_index[i], severity, schema) for i, (_, severity) in enumerate(given)]
    success = not any(o.severity == ERROR and not o.success for o in outcomes)
    return SuiteResult(
        table=table, release=release, row_count=df.height, success=success, outcomes=outcomes
    )


def _outcome(evr: Any, severity: str, schema: pl.Schema) -> ExpectationOutcome:
    config = evr.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    columns = _columns(kwargs)
    result = evr.result or {}
    unexpected_percent = _json_safe(result.get("unexpected_percent"))
    return ExpectationOutcome(
        expectation=config.type,
        column=",".join(columns) if columns else None,
        kwargs={k: _json_safe(kwargs[k]) for k in sorted(kwargs)},
        success=bool(evr.success),
        unexpected_count=_json_safe(result.get("unexpected_count")),
        unexpected_percent=None if unexpected_percent is None else float(unexpected_percent),
        examples=_examples(result.get("partial_unexpected_list"), columns, schema),
        observed=_json_safe(result.get("observed_value")),
        severity=severity,
        error=_exception_message(evr.exception_info),
    )


def _columns(kwargs: dict) -> list[str]:
    if kwargs.get("column") is not None:
        return [str(kwargs["column"])]
    if kwargs.get("column_list"):
        return [str(c) for c in kwargs["column_list"]]
    if kwargs.get("column_A") is not None and kwargs.get("column_B") is not None:
        return [str(kwargs["column_A"]), str(kwargs["column_B"])]
    return []


def _examples(values: Any, columns: list[str], schema: pl.Schema) -> list:
    """Up to _MAX_EXAMPLES distinct unexpected values, JSON-safe, in the order GX found them."""
    if not values:
        return []
    examples: list = []
    seen: set[str] = set()
    for value in values:
        if isinstance(value, dict):  # multi-column expectations give {column: value}
            value = {str(k): _restore(v, schema.get(str(k))) for k, v in value.items()}
        elif len(columns) == 1:
            value = _restore(value, schema.get(columns[0]))
        value = _json_safe(value, max_chars=_MAX_EXAMPLE_CHARS)
        if value is None:  # e.g. not-null checks: "null" is not an informative example
            continue
        key = json.dumps(value, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            examples.append(value)
            if len(examples) == _MAX_EXAMPLES:
                break
    return examples


def _restore(value: Any, dtype: Any) -> Any:
    """Undo pandas' int -> float64 promotion for integer columns with nulls."""
    if dtype is not None and dtype.is_integer():
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and value.is_integer():
            return int(value)
    return value


def _exception_message(info: Any) -> str | None:
    """GX's exception_info is either one {raised_exception, exception_message, ...} dict or a
    dict of them keyed by metric id (when a metric failed to compute)."""
    if not info:
        return None
    if not isinstance(info, dict):
        info = getattr(info, "to_json_dict", lambda: {})()
    if "raised_exception" in info:
        entries = [info]
    else:
        entries = [v for v in info.values() if isinstance(v, dict)]
    messages = [
        str(e.get("exception_message") or "exception")
        for e in entries
        if e.get("raised_exception")
    ]
    return "; ".join(dict.fromkeys(messages)) or None


def _json_safe(value: Any, max_chars: int | None = None) -> Any:
    """Plain JSON types: NaN/NA/NaT -> None, numpy scalars -> Python, Decimal -> str,
    dates -> ISO strings, sets sorted; anything else becomes its str()."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        if max_chars is not None and len(value) > max_chars:
            return value[:max_chars] + "…"
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return float(value)  # plain float, also for numpy.float64
    if isinstance(value, decimal.Decimal):
        return None if value.is_nan() else str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v, max_chars) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, max_chars) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [_json_safe(v, max_chars) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if hasattr(value, "tolist") and not isinstance(value, type):  # numpy scalar or array
        try:
            return _json_safe(value.tolist(), max_chars)
        except (TypeError, ValueError):  # pragma: no cover
            pass
    return _json_safe(str(value), max_chars)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
