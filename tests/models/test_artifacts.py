"""Model folders: round trip, hashes, and refusal of changed files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.errors import InputError, ModelIntegrityError
from workbench.models import load_model, save_model, verify_model
from workbench.models.artifacts import CARD_FILE, WEIGHTS_FILE


def _save(folder: Path, **kw) -> Path:
    args = {
        "weights": {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(2)},
        "config": {"kind": "test", "layers": [1, 2]},
        "features": {"max_len": 64},
        "metrics": {"auc": 0.9, "none": None},
        "card": {"name": "m", "seed": 7, "data_window": {"start": "2026-11-01"}},
    }
    args.update(kw)
    return save_model(folder, **args)


def test_round_trip(tmp_path: Path) -> None:
    folder = _save(tmp_path / "model", extra_files={"trees.txt": "tree 1\n", "x.bin": b"\x00\x01"})
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [WEIGHTS_FILE, "config.json", "features.json", "metrics.json", CARD_FILE,
         "trees.txt", "x.bin"]
    )  # fmt: skip
    weights, config, features, metrics, card = load_model(folder)
    assert torch.equal(weights["w"], torch.arange(6, dtype=torch.float32).reshape(2, 3))
    assert config == {"kind": "test", "layers": [1, 2]} and features == {"max_len": 64}
    assert metrics == {"auc": 0.9, "none": None}
    assert card["seed"] == 7 and card["data_window"] == {"start": "2026-11-01"}
    assert card["git"]["commit"] == "unknown" or len(card["git"]["commit"]) == 40
    assert set(card["files"]) == {WEIGHTS_FILE, "config.json", "features.json",
                                  "metrics.json", "trees.txt", "x.bin"}  # fmt: skip
    assert len(card["content_hash"]) == 64 and card["created_at"].endswith("+00:00")
    assert load_model(folder).extra_files == {"trees.txt": b"tree 1\n", "x.bin": b"\x00\x01"}
    assert verify_model(folder) == card


def test_numpy_weights_and_no_weights(tmp_path: Path) -> None:
    folder = _save(tmp_path / "np", weights={"a": np.zeros(3, dtype=np.float32)})
    assert load_model(folder).weights["a"].tolist() == [0.0, 0.0, 0.0]
    folder = _save(tmp_path / "none", weights=None, extra_files={"model.txt": "dump"})
    loaded = load_model(folder)
    assert loaded.weights == {} and not (folder / WEIGHTS_FILE).exists()
    assert loaded.extra_files["model.txt"] == b"dump"


@pytest.mark.parametrize("name", [WEIGHTS_FILE, "metrics.json", "config.json", "trees.txt"])
def test_a_changed_file_is_refused_by_name(tmp_path: Path, name: str) -> None:
    folder = _save(tmp_path / "model", extra_files={"trees.txt": "tree 1\n"})
    path = folder / name
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=f"{name}.*changed since the model was saved"):
        load_model(folder)


def test_an_edited_card_is_refused(tmp_path: Path) -> None:
    folder = _save(tmp_path / "model")
    card = json.loads((folder / CARD_FILE).read_text())
    card["seed"] = 8
    (folder / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelIntegrityError, match="card.json.*edited"):
        load_model(folder)


def test_card_hash_entry_cannot_be_swapped_with_the_file(tmp_path: Path) -> None:
    """Changing a file and its hash in the card together still breaks the content hash."""
    import hashlib

    folder = _save(tmp_path / "model")
    (folder / "metrics.json").write_text('{"auc": 1.0}\n')
    card = json.loads((folder / CARD_FILE).read_text())
    card["files"]["metrics.json"] = hashlib.sha256(b'{"auc": 1.0}\n').hexdigest()
    (folder / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelIntegrityError, match="edited"):
        load_model(folder)


def test_missing_file_and_not_a_model(tmp_path: Path) -> None:
    folder = _save(tmp_path / "model")
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelIntegrityError, match=f"{WEIGHTS_FILE} is missing"):
        load_model(folder)
    with pytest.raises(InputError, match="not a model folder"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / CARD_FILE).write_text("[1, 2]")
    with pytest.raises(ModelIntegrityError, match="JSON object"):
        load_model(tmp_path / "junk")


def test_weights_are_never_unpickled(tmp_path: Path) -> None:
    """A pickle put in place of the weights (hash updated too) is not executed or loaded."""
    folder = _save(tmp_path / "model")
    torch.save({"w": torch.ones(1)}, folder / WEIGHTS_FILE)  # a zip/pickle file
    with pytest.raises(ModelIntegrityError):
        load_model(folder)


def test_save_errors(tmp_path: Path) -> None:
    _save(tmp_path / "model")
    with pytest.raises(InputError, match="already exists"):
        _save(tmp_path / "model")
    _save(tmp_path / "model", overwrite=True, card={"name": "v2"})
    assert load_model(tmp_path / "model").card["name"] == "v2"
    with pytest.raises(InputError, match="JSON"):
        _save(tmp_path / "nan", metrics={"auc": float("nan")})
    with pytest.raises(InputError, match="not allowed"):
        _save(tmp_path / "bad", extra_files={"../evil": "x"})
    with pytest.raises(InputError, match="not allowed"):
        _save(tmp_path / "bad", extra_files={"card.json": "x"})
    with pytest.raises(InputError, match="written by save_model"):
        _save(tmp_path / "bad", card={"files": {}})
    with pytest.raises(InputError, match="not a tensor"):
        _save(tmp_path / "bad", weights={"w": [1, 2]})
    assert not (tmp_path / "nan").exists() and not (tmp_path / "bad").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left
