"""Real log formats into tables: every record loaded or quarantined, counted, loaded once."""

from workbench.ingest.access_log import parse_access_log
from workbench.ingest.auth_log import SyslogClock, parse_auth_log
from workbench.ingest.common import Reject, parse_timestamp, record_ids, split_target
from workbench.ingest.http_dump import parse_http_dump, split_requests
from workbench.ingest.loader import ingest
from workbench.ingest.logpush import parse_logpush
from workbench.ingest.payload_csv import infer_split, parse_payload_csv
from workbench.ingest.result import FileResult, IngestResult
from workbench.ingest.scan import FORMATS, FileScan, scan_file
from workbench.ingest.tabular import ColumnPlan, parse_csv, parse_parquet_batch, plan_columns

__all__ = [
    "FORMATS",
    "ColumnPlan",
    "FileResult",
    "FileScan",
    "IngestResult",
    "Reject",
    "SyslogClock",
    "infer_split",
    "ingest",
    "parse_access_log",
    "parse_auth_log",
    "parse_csv",
    "parse_http_dump",
    "parse_logpush",
    "parse_parquet_batch",
    "parse_payload_csv",
    "parse_timestamp",
    "plan_columns",
    "record_ids",
    "scan_file",
    "split_requests",
    "split_target",
]
