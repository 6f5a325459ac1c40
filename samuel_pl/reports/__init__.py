"""Reports of MLflow experiments (sweeps or plain runs): Markdown + self-contained HTML."""

from samuel_pl.reports.build import ReportOptions, build_report

__all__ = ["ReportOptions", "build_report"]
