"""The evaluation suite: generators and control rows x metrics over a split -> metrics.json,
table.md (with the validate section), MLflow.

Modules: ``runner`` (clips, generation cache, the suite run; its MLflow run:
:mod:`samuel_pl.tracking.evaluation_run`), ``scores`` (the metric objects of a suite, built per
row, and the figures they give), ``controls`` (control rows), ``validate`` (Cohen's d of the
ground truth against each control), ``table`` (table.md).
"""

from samuel_pl.evaluation.metric_validity import validate_markdown, validation
from samuel_pl.evaluation.suite_runner import evaluate, generate_all
from samuel_pl.evaluation.table import table_markdown, write_result

__all__ = [
    "evaluate",
    "generate_all",
    "table_markdown",
    "validate_markdown",
    "validation",
    "write_result",
]
