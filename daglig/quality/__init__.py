"""Data-quality gates: Great Expectations 1.x suites over a run's inputs and outputs.

Two gates, both pure (frames in, a :class:`GateReport` out, no Prefect, no database):

* the **input gate** looks at what the extract step read, before anything downstream uses
  it: the users, the question bank, and the last day's answers, each answer marked with the
  reason it was excluded (quarantined) if it was. Row-level problems in the whole answer
  log are quarantined by :func:`daglig.user_features.clean_attempts`; this gate stops the run
  when too many of the last day's answers had to be excluded (a broken upstream, not a few
  dirty rows), or when a table breaks a contract invariant (missing or duplicate ids).
* the **output gate** looks at the day's challenges and assignments before they are
  written: non-blank Norwegian text, XP and difficulty within bounds and within the
  admin's bounds, one assignment per (user, slot), only active users, every eligible user
  covered.

A *blocking* check that fails raises :class:`DataQualityError` naming the check and its
figures; a non-blocking one is reported as a warning. GX takes pandas, not polars: frames
are converted at the edge (Arrow-backed, so it is cheap), and facts that need a join are
computed in polars first and handed to GX as a column (``known_challenge``,
``n_assignments``). The GX context and each suite are built once per process.
"""

from daglig.quality.gx import warm_up
from daglig.quality.input_gate import KEPT_REASONS, check_input_gate, last_day_answers
from daglig.quality.output_gate import BONUS_MAX, XP_MAX, check_output_gate, eligible_users
from daglig.quality.report import CheckResult, DataQualityError, GateReport

__all__ = [
    "BONUS_MAX",
    "KEPT_REASONS",
    "XP_MAX",
    "CheckResult",
    "DataQualityError",
    "GateReport",
    "check_input_gate",
    "check_output_gate",
    "eligible_users",
    "last_day_answers",
    "warm_up",
]
