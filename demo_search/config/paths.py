"""Validators that turn the paths written in a config into absolute paths, checking that they exist.

Relative paths resolve against the directory of the config file, passed as ``base_dir`` in the validation
context (``SearchConfig.model_validate(raw, context={"base_dir": ...})``); without a context they resolve
against the working directory. A failed check raises a ``PydanticCustomError`` whose type the problem
formatter (``problems.py``) turns into ``<key path>: <message>``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pydantic import ValidationInfo
from pydantic_core import PydanticCustomError

import workers.tiny
from demo_search.data.tables import is_saved_dataset

logger = logging.getLogger(__name__)

TINY_MODEL = "tiny"
"""The ``model.path`` (or judge / reward model) alias for the bundled tiny model, ``workers.tiny.MODEL_DIR``."""

PATH_ERROR_TYPES = frozenset({"file_not_found", "not_a_file", "model_not_found", "not_a_model_dir"})
"""Error types raised here; their messages are shown after the key path and a colon."""

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]+)?$")


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir") or Path.cwd())


def _resolve(value: str, info: ValidationInfo) -> Path:
    return (_base_dir(info) / Path(value).expanduser()).resolve()


def tiny_model_dir() -> Path:
    """Where the bundled tiny model lives (read at call time, so tests can point it elsewhere)."""
    return Path(workers.tiny.MODEL_DIR)


def existing_file(value: str, info: ValidationInfo) -> str:
    """``value`` as an absolute path to an existing regular file."""
    path = _resolve(value, info)
    if not path.exists():
        raise PydanticCustomError("file_not_found", "file not found: {path}", {"path": str(path)})
    if not path.is_file():
        raise PydanticCustomError("not_a_file", "not a regular file: {path}", {"path": str(path)})
    return str(path)


def existing_data_source(value: str, info: ValidationInfo) -> str:
    """``value`` as an absolute path to an existing regular file, or to a dataset directory written by
    ``Dataset.save_to_disk``."""
    path = _resolve(value, info)
    if not path.exists():
        raise PydanticCustomError("file_not_found", "file not found: {path}", {"path": str(path)})
    if not path.is_file() and not is_saved_dataset(path):
        raise PydanticCustomError("not_a_file", "not a regular file (nor a dataset directory written by "
                                                "Dataset.save_to_disk): {path}", {"path": str(path)})
    return str(path)


def model_location(value: str, info: ValidationInfo) -> str:
    """``"tiny"``, an absolute path to a local model directory, or a hub id (``name`` or ``org/name``).

    A value that names an existing directory (relative to the config's directory) is a local model and
    must hold a ``config.json``. A value that does not exist but reads as a hub id is kept as is and not
    downloaded here; anything else that does not exist (``./x``, ``/x``, ``~/x``, ``a/b/c``) is an error.
    """
    if value == TINY_MODEL:
        path = tiny_model_dir()
        if not (path / "config.json").is_file():
            raise PydanticCustomError(
                "model_not_found",
                "the bundled tiny model is missing at {path} (it ships with the package; or rebuild it with "
                "`python scripts/train_tiny_model.py` from the repository root)",
                {"path": str(path)},
            )
        return TINY_MODEL
    path = _resolve(value, info)
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise PydanticCustomError(
                "not_a_model_dir",
                "{path} is not a model directory (expected a directory holding config.json)",
                {"path": str(path)},
            )
        return str(path)
    if _HUB_ID.match(value):
        logger.info("model %r is not a local directory; treating it as a hub id", value)
        return value
    raise PydanticCustomError(
        "model_not_found",
        "model directory not found: {path} (use 'tiny' for the bundled model, a local model directory, "
        "or a hub id such as org/name)",
        {"path": str(path)},
    )


def is_local_model(location: str) -> bool:
    """Whether a validated model location names a directory on disk (``"tiny"`` or an absolute path)."""
    return location == TINY_MODEL or Path(location).is_absolute()


def model_directory(location: str) -> str:
    """The path engines load: the bundled model's directory for ``"tiny"``, otherwise ``location``."""
    return str(tiny_model_dir()) if location == TINY_MODEL else location
