"""Run folders, run.json, the ledger, locks and the index page."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import time
from html.parser import HTMLParser

import pytest

from workbench.errors import ReportError
from workbench.reporting import RunRecord, build_index, load_runs
from workbench.reporting.locks import atomic_write, file_lock
from workbench.reporting.runner import model_version
from workbench.reporting.runs import (
    append_ledger,
    git_commit,
    new_run_folder,
    read_ledger,
    write_run,
)

HOSTILE = '"><script>alert(1)</script><img src=x onerror=window.__xss=1>'


def make_run(root, name, started, **fields):
    run_id, folder = new_run_folder(root, name, started)
    fields.setdefault("parameters", {})
    record = RunRecord(run_id=run_id, name=name, template=f"{name}.ipynb",
                       status="ok", started=started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       html=f"{name}.html", notebook=f"{name}.ipynb", **fields)  # fmt: skip
    write_run(folder, record)
    return record, folder


def test_run_folders_are_unique_and_named_by_time(tmp_path):
    started = dt.datetime(2026, 11, 22, 6, 0, 5, tzinfo=dt.UTC)
    ids = {new_run_folder(tmp_path, "traffic_overview", started)[0] for _ in range(20)}
    assert len(ids) == 20
    assert all(i.startswith("20261122T060005Z-") for i in ids)
    assert len(list((tmp_path / "traffic_overview").iterdir())) == 20


def test_runs_load_newest_first_and_skip_broken_records(tmp_path):
    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    old, _ = make_run(tmp_path, "a", t0)
    new, folder = make_run(tmp_path, "b", t0 + dt.timedelta(hours=1), headline={"n": 3})
    (tmp_path / "c" / "broken").mkdir(parents=True)
    (tmp_path / "c" / "broken" / "run.json").write_text("{not json")
    runs = load_runs(tmp_path)
    assert [r.run_id for r in runs] == [new.run_id, old.run_id]
    assert runs[0].headline == {"n": 3}
    assert RunRecord.from_dict({**runs[0].__dict__, "future_field": 1}).run_id == new.run_id


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.hrefs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.hrefs += [v for k, v in attrs if k == "href"]


def test_index_lists_runs_escaped_and_linked(tmp_path):
    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    first, _ = make_run(tmp_path, "traffic_overview", t0, parameters={"entity": HOSTILE})
    second, _ = make_run(tmp_path, "traffic_overview", t0 + dt.timedelta(minutes=5),
                         headline={HOSTILE: HOSTILE}, error=HOSTILE)  # fmt: skip
    second.status = "failed"
    page = build_index(tmp_path).read_text()
    assert HOSTILE not in page and "<script>" not in page.split("</style>", 1)[1]
    parser = _Links()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert parser.hrefs == [
        f"traffic_overview/{second.run_id}/traffic_overview.html",
        f"traffic_overview/{first.run_id}/traffic_overview.html",
    ]
    assert "default-src 'none'" in page


def test_empty_index(tmp_path):
    assert "No reports yet." in build_index(tmp_path).read_text()


def test_ledger_appends_and_survives_a_torn_line(tmp_path):
    append_ledger(tmp_path, "claimed", job="j", slot="2026-11-22T06:00:00Z")
    with open(tmp_path / "ledger.jsonl", "a") as handle:
        handle.write('{"event": "finished", "job": "j"')  # a writer killed mid-line
    append_ledger(tmp_path, "finished", job="j", slot="2026-11-22T06:00:00Z", status="ok")
    events = list(read_ledger(tmp_path))
    assert [e["event"] for e in events] == ["claimed", "finished"]
    assert events[1]["status"] == "ok" and events[0]["pid"] > 0


def test_atomic_write_replaces_whole_files(tmp_path):
    target = atomic_write(tmp_path / "sub" / "f.txt", "one")
    atomic_write(target, b"two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.txt"]


def test_file_lock_excludes_other_processes(tmp_path):
    lock = tmp_path / "x.lock"
    holder = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from workbench.reporting.locks import file_lock
            with file_lock({str(lock)!r}):
                print("held", flush=True)
                time.sleep(1.5)
        """)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ReportError, match="waited 0.2 s for the test lock"):
            with file_lock(lock, timeout_s=0.2, what="test lock"):
                pass
        began = time.monotonic()
        with file_lock(lock, timeout_s=10):
            waited = time.monotonic() - began
        assert 0.1 < waited < 5  # got it once the other process let go
    finally:
        holder.wait(timeout=10)


def test_git_commit_names_this_checkout():
    commit = git_commit()
    assert commit == "unknown" or len(commit.split("-")[0]) == 12


def test_model_version_comes_from_the_named_model_card(tmp_path):
    card = tmp_path / "charcnn-v3" / "card.json"
    card.parent.mkdir()
    card.write_text('{"content_hash": "0123456789abcdef0123", "seed": 1}')
    assert model_version({"model": "charcnn-v3"}, tmp_path) == "charcnn-v3 (content 0123456789ab)"
    assert model_version({"model_dir": str(card.parent)}, tmp_path / "elsewhere").startswith(
        "charcnn-v3"
    )
    assert model_version({"model": "not-trained-yet"}, tmp_path) == "not-trained-yet"
    assert model_version({"start": "-24h"}, tmp_path) is None
