"""Reports: papermill execution, HTML rendering, run index, schedules, redaction."""

from workbench.reporting.access import report_store
from workbench.reporting.execute import Execution, execute_notebook
from workbench.reporting.index import build_index
from workbench.reporting.params import (
    check_parameters,
    is_secret_name,
    parse_assignments,
    parse_time,
    resolve_window,
)
from workbench.reporting.record import note_sensitive, read_record, record, record_context
from workbench.reporting.redact import Redactor, redact_notebook
from workbench.reporting.render import ReportHeader, render_html
from workbench.reporting.runner import RunResult, run_report
from workbench.reporting.runs import RunRecord, load_runs
from workbench.reporting.schedule import Job, crontab_lines, load_schedules, run_due
from workbench.reporting.templates import Template, list_templates, load_template

__all__ = [
    "Execution",
    "Job",
    "Redactor",
    "ReportHeader",
    "RunRecord",
    "RunResult",
    "Template",
    "build_index",
    "check_parameters",
    "crontab_lines",
    "execute_notebook",
    "is_secret_name",
    "list_templates",
    "load_runs",
    "load_schedules",
    "load_template",
    "note_sensitive",
    "parse_assignments",
    "parse_time",
    "read_record",
    "record",
    "record_context",
    "redact_notebook",
    "render_html",
    "report_store",
    "resolve_window",
    "run_due",
    "run_report",
]
