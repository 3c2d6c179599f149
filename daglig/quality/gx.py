"""Great Expectations plumbing: the process's one ephemeral context, each suite built once,
and a frame validated against a suite turned into :class:`CheckResult` rows. GX takes
pandas, not polars: frames are converted here (Arrow-backed, so it is cheap)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import Any

import polars as pl

from daglig.quality.report import CheckResult

#: (check name, blocking, expectation factory); factories run once per suite
Spec = tuple[str, bool, Callable[[], Any]]


def warm_up() -> None:
    """Import Great Expectations (seconds of pure Python): the flow calls this in a thread
    while the answer log is read, so the input gate does not wait for it. Import only —
    the context itself is not thread-safe and is built by the gate."""
    import great_expectations  # noqa: F401
    import great_expectations.expectations  # noqa: F401


@cache
def _context() -> Any:
    """The process's one ephemeral GX context with a pandas data source."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX logs each metric computation and draws tqdm bars: neither belongs in run logs.
    for name in ("great_expectations", "great_expectations.core", "tqdm"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    ctx.data_sources.add_pandas("daglig")
    return ctx


_DEFINITIONS: dict[tuple[str, tuple[Any, ...]], Any] = {}


def _definition(table: str, key: tuple[Any, ...], specs: Callable[[], list[Spec]]) -> Any:
    """The validation definition of ``table`` for parameters ``key`` (built once)."""
    found = _DEFINITIONS.get((table, key))
    if found is not None:
        return found
    import great_expectations as gx

    ctx = _context()
    name = f"{table}-{len(_DEFINITIONS)}"
    asset = ctx.data_sources.get("daglig").add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe("whole")
    suite = ctx.suites.add(gx.ExpectationSuite(name=name))
    for check, blocking, make in specs():
        expectation = make()
        expectation.meta = {"check": check, "blocking": blocking}
        suite.add_expectation(expectation)
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    _DEFINITIONS[(table, key)] = vd
    return vd


def run_suite(
    table: str,
    key: tuple[Any, ...],
    specs: Callable[[], list[Spec]],
    frame: pl.DataFrame,
    thresholds: dict[str, str] | None = None,
) -> list[CheckResult]:
    """Validate ``frame`` against the suite and turn GX's result into CheckResults."""
    vd = _definition(table, key, specs)
    pdf = frame.to_pandas(use_pyarrow_extension_array=True)
    result = vd.run(batch_parameters={"dataframe": pdf}, result_format="SUMMARY")
    out = []
    for r in result.results:
        meta = r.expectation_config.meta or {}
        res = r.result or {}
        if r.exception_info and r.exception_info.get("raised_exception"):
            # GX could not evaluate the check (a missing column, a wrong type): a failure.
            msg = str(r.exception_info.get("exception_message", "")).splitlines()[:1]
            out.append(
                CheckResult(
                    table, meta["check"], True, False, frame.height, frame.height, tuple(msg)
                )
            )
            continue
        examples = tuple(str(v) for v in (res.get("partial_unexpected_list") or [])[:3])
        out.append(
            CheckResult(
                table=table,
                check=meta["check"],
                blocking=bool(meta["blocking"]),
                success=bool(r.success),
                element_count=int(res.get("element_count") or frame.height),
                unexpected_count=int(res.get("unexpected_count") or 0),
                examples=examples,
                threshold=(thresholds or {}).get(meta["check"], ""),
            )
        )
    return out


def expectations() -> Any:
    import great_expectations.expectations as gxe

    return gxe
