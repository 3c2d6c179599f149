"""What a gate reports: each check's outcome, the gate's report, and the error a blocking
failure raises (one line naming the gate, the check and its figures)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class DataQualityError(RuntimeError):
    """A blocking data-quality check failed: the run stops before anything is written.

    The message is one line naming the gate, the check and its figures."""

    def __init__(self, message: str, gate: str = "", failures: Sequence[CheckResult] = ()):
        super().__init__(message)
        self.gate = gate
        self.failures = tuple(failures)

    def __reduce__(self) -> tuple[Any, ...]:  # pickles whole (Prefect may persist states)
        return (type(self), (str(self), self.gate, self.failures))

    @classmethod
    def from_failures(cls, gate: str, failures: Sequence[CheckResult]) -> DataQualityError:
        first, rest = failures[0], failures[1:]
        more = f" (+{len(rest)} more: {'; '.join(f.check for f in rest)})" if rest else ""
        return cls(f"{gate} gate failed: {first.line()}{more}", gate, failures)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one expectation on one table."""

    table: str
    check: str
    blocking: bool
    success: bool
    element_count: int
    unexpected_count: int
    examples: tuple[str, ...] = ()
    threshold: str = ""

    def line(self) -> str:
        """``check: 12 of 400 rows (3.0 %) failed, e.g. [..]`` — one line, for people."""
        share = (
            f" ({100 * self.unexpected_count / self.element_count:.1f} %)"
            if self.element_count
            else ""
        )
        eg = f", e.g. {list(self.examples)}" if self.examples else ""
        limit = f"; limit {self.threshold}" if self.threshold else ""
        return (
            f"{self.check}: {self.unexpected_count} of {self.element_count} rows{share} "
            f"failed{eg}{limit}"
        )


@dataclass(frozen=True, slots=True)
class GateReport:
    """Every check of one gate, and how long the gate took."""

    gate: str
    checks: tuple[CheckResult, ...]
    seconds: float
    figures: dict[str, int] = field(default_factory=dict)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.blocking and not c.success)

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.blocking and not c.success)

    def raise_for_failures(self) -> None:
        if self.failures:
            raise DataQualityError.from_failures(self.gate, self.failures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checks": len(self.checks),
            "passed": sum(c.success for c in self.checks),
            "failed": [c.line() for c in self.failures],
            "warnings": [c.line() for c in self.warnings],
            "seconds": round(self.seconds, 3),
            **self.figures,
        }
