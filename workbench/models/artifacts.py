"""A trained model is a folder of plain files, hashed, and checked when loaded.

::

    model.safetensors   weights (safetensors: tensors only, nothing executable)
    config.json         the resolved model configuration
    features.json       how inputs are turned into features (encoding settings...)
    metrics.json        evaluation results
    card.json           model card: data window, seed, git commit, created time, the sha256
                        of every file above (and of any extra file) and a content hash
    <extra files>       optional, for other model kinds (a LightGBM text dump, ...)

The content hash covers every file's sha256 and the card itself, so a changed weight, a
changed metric or an edited card is refused by :func:`load_model` with a
:class:`~workbench.errors.ModelIntegrityError` naming the file. Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from workbench.config import PROJECT_DIR
from workbench.errors import InputError, ModelIntegrityError
from workbench.gitinfo import git_state

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FEATURES_FILE = "features.json"
METRICS_FILE = "metrics.json"
CARD_FILE = "card.json"
RESERVED = (WEIGHTS_FILE, CONFIG_FILE, FEATURES_FILE, METRICS_FILE, CARD_FILE)
CARD_FORMAT = 1
#: Hex digits of the content hash that name a model version (``scores.Version``, reports).
VERSION_CHARS = 12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_GENERATED = ("files", "content_hash", "format")


@dataclass(frozen=True)
class ModelArtifact:
    """What :func:`load_model` returns; unpacks as ``weights, config, features, metrics, card``.

    Attributes
    ----------
    weights : dict of str to torch.Tensor
        The tensors (empty for a model saved without weights).
    config, features, metrics, card : dict
        The JSON files.
    extra_files : dict of str to bytes
        Extra files registered when saving, verified like the others.
    folder : Path
        Where it was loaded from.
    """

    weights: dict[str, torch.Tensor]
    config: dict[str, Any]
    features: dict[str, Any]
    metrics: dict[str, Any]
    card: dict[str, Any]
    extra_files: dict[str, bytes] = field(default_factory=dict)
    folder: Path | None = None

    def __iter__(self) -> Iterator[Any]:
        """Yield weights, config, features, metrics and card (tuple unpacking)."""
        return iter((self.weights, self.config, self.features, self.metrics, self.card))


def model_version(card: Mapping[str, Any]) -> str:
    """Return a model's version: the first :data:`VERSION_CHARS` hex digits of its content hash.

    Parameters
    ----------
    card : mapping
        The model card (``card.json``).

    Returns
    -------
    str
        What ``scores.Version`` holds for the model (``""`` for a card without a hash).
    """
    return str(card.get("content_hash", ""))[:VERSION_CHARS]


def model_tag(card: Mapping[str, Any], default_name: str) -> str:
    """Return ``name@version`` of a model, as reports show it.

    Parameters
    ----------
    card : mapping
        The model card.
    default_name : str
        The name when the card has none (usually the folder's).

    Returns
    -------
    str
    """
    return f"{card.get('name', default_name)}@{model_version(card)}"


def git_commit(repo: Path = PROJECT_DIR) -> dict[str, Any]:
    """Return the repository's current commit and whether the work tree has changes.

    Parameters
    ----------
    repo : Path
        A folder inside a git work tree (default: this project).

    Returns
    -------
    dict
        ``{"commit": sha or "unknown", "dirty": bool or None}``.
    """
    commit, dirty = git_state(repo)
    return {"commit": commit or "unknown", "dirty": dirty}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_bytes(value: Any, what: str) -> bytes:
    try:
        text = json.dumps(value, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} cannot be saved as JSON: {exc}") from None
    return (text + "\n").encode("utf-8")


def _content_hash(card: Mapping[str, Any]) -> str:
    """Hash the card without its own hash: the file hashes are inside it."""
    body = {k: v for k, v in card.items() if k != "content_hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _tensors(weights: Mapping[str, Any] | None) -> dict[str, torch.Tensor]:
    out = {}
    for name, value in (weights or {}).items():
        if not isinstance(name, str) or not name:
            raise InputError(f"weight names must be non-empty strings, got {name!r}")
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value)
        if not isinstance(value, torch.Tensor):
            raise InputError(f"weight {name!r} is a {type(value).__name__}, not a tensor")
        out[name] = value.detach().cpu().contiguous()
    return out


def save_model(
    folder: str | Path,
    weights: Mapping[str, torch.Tensor] | None,
    config: Mapping[str, Any],
    features: Mapping[str, Any],
    metrics: Mapping[str, Any],
    card: Mapping[str, Any],
    extra_files: Mapping[str, bytes | str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a model folder with a hashed model card.

    Files are written to a temporary folder beside ``folder`` and moved into place at the
    end, so a failed save never leaves a half-written model.

    Parameters
    ----------
    folder : str or Path
        The model folder to create.
    weights : mapping of str to torch.Tensor, or None
        Tensors for ``model.safetensors`` (numpy arrays are accepted); ``None`` or empty
        for a model kept entirely in JSON or extra files.
    config, features, metrics : mapping
        JSON-serialisable dictionaries (no NaN: use ``None``).
    card : mapping
        Model-card fields, for example ``name``, ``data_window``, ``seed``. The created
        time, git commit, file hashes and content hash are added here.
    extra_files : mapping of str to bytes or str, optional
        More files to store and hash (names: letters, digits, ``._-``).
    overwrite : bool, default False
        Replace an existing folder.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    InputError
        When the folder exists (without ``overwrite``), a name is not allowed or a
        dictionary is not JSON-serialisable.
    """
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise InputError(f"model folder {folder} already exists (pass overwrite=True)")
    tensors = _tensors(weights)
    contents: dict[str, bytes] = {
        CONFIG_FILE: _json_bytes(dict(config), "config"),
        FEATURES_FILE: _json_bytes(dict(features), "features"),
        METRICS_FILE: _json_bytes(dict(metrics), "metrics"),
    }
    for name, data in (extra_files or {}).items():
        if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED:
            raise InputError(
                f"extra file name {name!r} is not allowed (letters, digits and ._- only; "
                f"not one of {', '.join(RESERVED)})"
            )
        contents[name] = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    clash = sorted(set(card) & set(_GENERATED))
    if clash:
        raise InputError(f"card fields {clash} are written by save_model itself")

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        if tensors:
            save_file(tensors, str(tmp / WEIGHTS_FILE))
        for name, data in contents.items():
            (tmp / name).write_bytes(data)
        names = sorted(contents) + ([WEIGHTS_FILE] if tensors else [])
        full_card = {
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "git": git_commit(),
            **dict(card),
            "format": CARD_FORMAT,
            "files": {name: _sha256(tmp / name) for name in sorted(names)},
        }
        full_card["content_hash"] = _content_hash(json.loads(_json_bytes(full_card, "card")))
        (tmp / CARD_FILE).write_bytes(_json_bytes(full_card, "card"))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _parse_json(data: bytes, name: str, folder: Path) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(f"{name} in {folder} is unreadable: {exc}") from None
    if not isinstance(value, dict):
        raise ModelIntegrityError(f"{name} in {folder} does not hold a JSON object")
    return value


def _verified(folder: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Read the card and every file it lists, checking hashes on the bytes that were read."""
    if not (folder / CARD_FILE).is_file():
        raise InputError(f"{folder} is not a model folder (no {CARD_FILE})")
    card = _parse_json((folder / CARD_FILE).read_bytes(), CARD_FILE, folder)
    files = card.get("files")
    if not isinstance(files, dict) or not isinstance(card.get("content_hash"), str):
        raise ModelIntegrityError(f"{CARD_FILE} in {folder} lacks its file hashes")
    for required in (CONFIG_FILE, FEATURES_FILE, METRICS_FILE):
        if required not in files:
            raise ModelIntegrityError(f"{CARD_FILE} in {folder} does not list {required}")
    contents = {}
    for name, expected in sorted(files.items()):
        if not isinstance(name, str) or not _NAME.match(name) or name == CARD_FILE:
            raise ModelIntegrityError(f"{CARD_FILE} in {folder} lists a bad file name {name!r}")
        path = folder / name
        if not path.is_file():
            raise ModelIntegrityError(f"{name} is missing from model folder {folder}")
        data = path.read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ModelIntegrityError(
                f"{name} in {folder} changed since the model was saved "
                f"(sha256 {actual[:12]}..., card says {str(expected)[:12]}...)"
            )
        contents[name] = data
    if _content_hash(card) != card["content_hash"]:
        raise ModelIntegrityError(f"{CARD_FILE} in {folder} was edited after the model was saved")
    return card, contents


def verify_model(folder: str | Path) -> dict[str, Any]:
    """Check every file of a model folder against its card; return the card.

    Parameters
    ----------
    folder : str or Path
        A folder written by :func:`save_model`.

    Returns
    -------
    dict
        The verified model card.

    Raises
    ------
    InputError
        When ``folder`` is not a model folder (no ``card.json``).
    ModelIntegrityError
        When a listed file is missing or changed, or the card was edited.
    """
    return _verified(Path(folder))[0]


def load_model(folder: str | Path) -> ModelArtifact:
    """Load a model folder after checking every file's hash.

    Parameters
    ----------
    folder : str or Path
        A folder written by :func:`save_model`.

    Returns
    -------
    ModelArtifact
        Unpacks as ``weights, config, features, metrics, card``; extra files are in
        ``.extra_files``.

    Raises
    ------
    InputError
        When ``folder`` is not a model folder.
    ModelIntegrityError
        When a file is missing, changed or unreadable, or the card was edited.
    """
    folder = Path(folder)
    card, contents = _verified(folder)
    weights: dict[str, torch.Tensor] = {}
    if WEIGHTS_FILE in contents:
        try:
            weights = load_safetensors(contents[WEIGHTS_FILE])
        except (SafetensorError, ValueError) as exc:
            raise ModelIntegrityError(f"{WEIGHTS_FILE} in {folder} is unreadable: {exc}") from None
    return ModelArtifact(
        weights=weights,
        config=_parse_json(contents[CONFIG_FILE], CONFIG_FILE, folder),
        features=_parse_json(contents[FEATURES_FILE], FEATURES_FILE, folder),
        metrics=_parse_json(contents[METRICS_FILE], METRICS_FILE, folder),
        card=card,
        extra_files={k: v for k, v in contents.items() if k not in RESERVED},
        folder=folder,
    )


def resolve_model(value: str | None, version: str | None) -> tuple[str | None, str | None]:
    """Read a model reference: a model name as in the ``scores`` table, or a saved model folder.

    Parameters
    ----------
    value : str or None
        Model name, or the path of a model folder (its verified card gives the name, and
        the version when ``version`` is not given: the card's ``version``, else the first
        12 characters of its content hash).
    version : str or None
        Version, when given explicitly.

    Returns
    -------
    tuple
        ``(model, version)``.

    Raises
    ------
    InputError
        When the folder's card has no ``name``.
    """
    if not value:
        return None, version
    folder = Path(value)
    if not folder.is_dir():
        return value, version
    card = verify_model(folder)
    name = card.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"the model card in {folder} has no name")
    if version is None:
        version = str(card.get("version") or model_version(card))
    return name, version
