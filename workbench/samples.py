"""``data_samples/``: small committed data sets, regenerated identically by ``make samples``.

The samples are made by the synthetic generators with fixed seeds; tests and the demo load
them into a store with :func:`load_samples` (idempotent: a sample already loaded is skipped).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.config import PROJECT_DIR
from workbench.errors import InputError

SAMPLES_DIR = PROJECT_DIR / "data_samples"
SEED = 7
TRAFFIC_REQUESTS = 250_000
TRAFFIC_DAYS = 2
AUTH_USERS = 300
AUTH_DAYS = 14


@dataclass(frozen=True)
class Sample:
    """One committed sample file and the table it loads into."""

    file: str
    table: str
    source_column: str = "Source"


SAMPLES = (
    Sample("http_requests.parquet", "http_requests"),
    Sample("auth_events.parquet", "auth_events"),
)


def make_samples(folder: Path = SAMPLES_DIR) -> list[Path]:
    """Regenerate the synthetic sample files (same bytes for the same code).

    Parameters
    ----------
    folder : Path, optional
        Where to write them; ``data_samples/`` by default.

    Returns
    -------
    list of Path
        The files written.
    """
    from workbench.synth import generate_auth_events, generate_traffic

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    traffic = pa.concat_tables(
        generate_traffic(TRAFFIC_REQUESTS, days=TRAFFIC_DAYS, seed=SEED, chunk_rows=100_000)
    )
    traffic = traffic.sort_by([("EdgeStartTimestamp", "ascending"), ("RayID", "ascending")])
    written.append(_write(traffic, folder / "http_requests.parquet"))
    # the sample predates auth_events.Repeats: every synthetic row has 1, the column's DEFAULT
    # when the sample is loaded, so it is left out and the file keeps its bytes
    events = generate_auth_events(AUTH_USERS, AUTH_DAYS, SEED).drop(columns="Repeats")
    auth = pa.Table.from_pandas(events, preserve_index=False)
    written.append(_write(auth, folder / "auth_events.parquet"))
    return written


def _write(table: pa.Table, path: Path) -> Path:
    # delta-encoded timestamps and strong zstd keep the traffic sample under 10 MB
    delta = [
        c
        for c in ("EdgeStartTimestamp", "EdgeEndTimestamp", "EventTime")
        if c in table.column_names
    ]
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=19,
        row_group_size=100_000,
        use_dictionary=[c for c in table.column_names if c not in delta],
        column_encoding=dict.fromkeys(delta, "DELTA_BINARY_PACKED"),
    )
    return path


def load_samples(store, folder: Path = SAMPLES_DIR) -> dict[str, int]:
    """Load every sample file into its table unless its rows are already there.

    Parameters
    ----------
    store : Store
        Target store.
    folder : Path, optional
        Where the samples are.

    Returns
    -------
    dict
        Table name to rows loaded now (0 when the sample was already loaded).

    Raises
    ------
    InputError
        When a sample file is missing (run ``make samples``).
    """
    loaded = {}
    for sample in SAMPLES:
        path = folder / sample.file
        if not path.is_file():
            raise InputError(f"sample {path} is missing: run `make samples` to regenerate it")
        parquet = pq.ParquetFile(path)
        first = parquet.read_row_group(0, columns=[sample.source_column])
        source = first[sample.source_column][0].as_py()
        present = store.query_df(
            f"SELECT count() AS n FROM {sample.table} WHERE Source = {{s:String}}",  # noqa: S608 - fixed table names
            {"s": source},
        )["n"][0]
        if int(present) >= parquet.metadata.num_rows:
            loaded[sample.table] = 0
            continue
        if present:
            store.mutate(
                sample.table,
                "DELETE WHERE Source = {s:String}",
                {"s": source},
                settings={"mutations_sync": 2},
            )
        rows = 0
        for batch in parquet.iter_batches(batch_size=100_000):
            rows += store.insert_arrow(sample.table, pa.Table.from_batches([batch]))
        loaded[sample.table] = rows
    return loaded


def main() -> int:
    """Regenerate ``data_samples/`` (synthetic tables and ingest samples) and list the files."""
    from workbench.ingest.samples import write_samples

    for path in [*make_samples(), *write_samples()]:
        print(f"{path.relative_to(PROJECT_DIR)}: {path.stat().st_size / 2**20:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
