"""``wb labels``: import, list, queue and experiment through the typer app."""

from __future__ import annotations

from typer.testing import CliRunner

from workbench.errors import InputError
from workbench.labels.cli import app
from workbench.store import connect

runner = CliRunner()


def test_import_then_list(tmp_path) -> None:
    path = tmp_path / "l.csv"
    path.write_text(
        "entity,verdict,analyst,note\n50.0.0.1,malicious,ann,\x1b[31mred\n,bad,ann,\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert (
        "inserted 1 labels; 1 bad rows" in result.output and "line 3: empty entity" in result.output
    )
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0, listed.output
    assert "1 labels" in listed.output and "50.0.0.1" in listed.output
    assert "\x1b" not in listed.output and "\\x1b[31mred" in listed.output
    bad = tmp_path / "bad.csv"
    bad.write_text("entity,verdict,analyst\n1.1.1.1,spam,ann\n", encoding="utf-8")
    refused = runner.invoke(app, ["import", str(bad)])
    assert refused.exit_code != 0 and isinstance(refused.exception, InputError)


def test_queue_and_experiment(tmp_path) -> None:
    from workbench.models import train_tabular
    from workbench.synth import write_traffic

    store = connect()
    write_traffic(store, 20_000, days=1.0, seed=3, progress=False)
    train_tabular(store, "2026-11-01", "2026-11-02", tmp_path / "m", seed=0, progress=False)
    store.close()
    window = ["--window", "2026-11-01", "2026-11-02"]
    out = tmp_path / "q.csv"
    result = runner.invoke(
        app, ["queue", "--model", str(tmp_path / "m"), *window, "--k", "5", "--strategy",
              "margin", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ClientIP" in result.output and out.read_text().count("\n") == 6
    wrong = runner.invoke(app, ["queue", "--model", str(tmp_path / "m"), *window,
                                "--strategy", "entropy"])  # fmt: skip
    assert isinstance(wrong.exception, InputError)
    exp = runner.invoke(
        app, ["experiment", *window, "--seeds", "1", "--rounds", "2", "--strategy", "random",
              "--strategy", "uncertainty", "--out", str(tmp_path / "exp")],
    )  # fmt: skip
    assert exp.exit_code == 0, exp.output
    assert "uncertainty" in exp.output and "random" in exp.output
    assert "every pool entity labelled: PR-AUC" in exp.output
    assert (tmp_path / "exp" / "learning_curves.html").stat().st_size > 100_000
    assert (tmp_path / "exp" / "learning_curves.csv").read_text().count("\n") == 7
