"""Reading columnar data sources into records: Parquet files and Hugging Face datasets saved to disk.

A source is a *table* when it is a ``.parquet`` (or ``.pq``) file, or a directory written by
``datasets.Dataset.save_to_disk``: ``state.json`` names the shards in ``_data_files`` (``data-00000-of-00001.arrow``,
...), each an Arrow IPC *stream*, next to ``dataset_info.json``. Only pyarrow is needed (the optional ``formats``
extra), not the ``datasets`` package. Each row becomes one record (a dict of its columns; nested lists and
structs become lists and dicts), numbered from 0 in dataset order as ``dataset[i]`` numbers it, and then goes
through the same format detection and mapping as a JSON record. A ``DatasetDict`` directory (``dataset_dict.json``)
is refused with the names of its splits: give one split's directory.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from demo_search.data.problems import Problem
from demo_search.data.sources import Layout, SourceRead, SourceRecord

logger = logging.getLogger(__name__)

PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
STATE_FILE = "state.json"
DATASET_DICT_FILE = "dataset_dict.json"
INSTALL_HINT = "pip install 'demo-search[formats]' (or: pip install pyarrow)"


def is_saved_dataset(path: Path) -> bool:
    """Whether ``path`` is a directory written by ``Dataset.save_to_disk`` (or ``DatasetDict.save_to_disk``)."""
    return path.is_dir() and ((path / STATE_FILE).is_file() or (path / DATASET_DICT_FILE).is_file())


def is_table_source(path: Path) -> bool:
    """Whether ``path`` is read as a table: a Parquet file, or a saved dataset (or dataset dict) directory."""
    if path.is_dir():
        return is_saved_dataset(path)
    return path.suffix.lower() in PARQUET_SUFFIXES and path.is_file()


def read_table(path: Path, display: str) -> SourceRead | Problem:
    """Every row of the table at ``path`` as a record, or the one problem that stops reading it."""
    try:
        import pyarrow  # noqa: F401  (only to tell a missing pyarrow apart)
    except ImportError:
        kind = "a saved Hugging Face dataset" if path.is_dir() else "a Parquet file"
        return Problem(display, None, None, f"reading {kind} needs pyarrow, which is not installed: {INSTALL_HINT}")
    if path.is_dir():
        return _read_saved_dataset(path, display)
    return _read_parquet(path, display)


def _records(rows: list[dict[str, Any]], layout: Layout) -> SourceRead:
    return SourceRead(layout, tuple(SourceRecord(index, row) for index, row in enumerate(rows)), ())


def _read_parquet(path: Path, display: str) -> SourceRead | Problem:
    import pyarrow
    import pyarrow.parquet as parquet

    try:
        table = parquet.read_table(path)
    except (pyarrow.ArrowException, OSError) as error:
        return Problem(display, None, None, f"cannot read the file as Parquet: {error}")
    logger.debug("%s: %d rows, columns %s", display, table.num_rows, ", ".join(table.column_names))
    return _records(table.to_pylist(), Layout.PARQUET)


def _read_saved_dataset(directory: Path, display: str) -> SourceRead | Problem:
    import pyarrow

    if not (directory / STATE_FILE).is_file():
        return Problem(display, None, None, _dataset_dict_message(directory))
    state = _state(directory / STATE_FILE)
    if isinstance(state, str):
        return Problem(display, None, None, f"{STATE_FILE}: {state}")
    tables = []
    for name in state:
        shard = directory / name
        try:
            with pyarrow.OSFile(str(shard), "rb") as handle:
                tables.append(pyarrow.ipc.open_stream(handle).read_all())
        except (pyarrow.ArrowException, OSError) as error:
            return Problem(display, None, None, f"cannot read {name} (listed in {STATE_FILE}) as an Arrow stream: "
                                                f"{error}")
    try:
        table = pyarrow.concat_tables(tables)
    except pyarrow.ArrowException as error:
        return Problem(display, None, None, f"the shards listed in {STATE_FILE} do not share one schema: {error}")
    logger.debug("%s: %d rows in %d shard(s), columns %s", display, table.num_rows, len(tables),
                 ", ".join(table.column_names))
    return _records(table.to_pylist(), Layout.SAVED_DATASET)


def _state(path: Path) -> list[str] | str:
    """The shard file names ``state.json`` lists in ``_data_files``, or why they cannot be had."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"cannot read it: {error}"
    files = state.get("_data_files") if isinstance(state, dict) else None
    if not isinstance(files, list) or not files:
        return "expected '_data_files', a non-empty list of {\"filename\": ...} (as Dataset.save_to_disk writes it)"
    names = [entry.get("filename") if isinstance(entry, dict) else None for entry in files]
    bad = next((index for index, name in enumerate(names) if not isinstance(name, str) or "/" in name), None)
    if bad is not None:
        return f"'_data_files[{bad}].filename' must be the name of a file in the dataset directory"
    return names


def _dataset_dict_message(directory: Path) -> str:
    try:
        splits = json.loads((directory / DATASET_DICT_FILE).read_text(encoding="utf-8")).get("splits")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        splits = None
    names = ", ".join(str(split) for split in splits) if isinstance(splits, list) and splits else "unknown"
    return (f"is a DatasetDict saved to disk (splits: {names}), not one dataset; give the directory of one split, "
            f"e.g. {directory / (str(splits[0]) if isinstance(splits, list) and splits else 'train')}")
