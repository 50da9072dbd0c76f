"""Parquet files and Hugging Face datasets saved to disk (``Dataset.save_to_disk``) as pool and held-out sources:
rows go through the same detection and mapping as JSON records, and problems name the row."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from demo_search.data import load_heldout, load_pool  # noqa: E402
from demo_search.types import Demonstration, HeldOutPrompt, Turn  # noqa: E402


def _chat(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in pairs]


def write_saved_dataset(directory: Path, rows: list[dict], shards: int = 1) -> Path:
    """A directory laid out as ``datasets.Dataset.save_to_disk`` writes it: ``data-0000i-of-0000n.arrow`` Arrow
    IPC streams (contiguous shards), ``state.json`` listing them in ``_data_files``, and ``dataset_info.json``."""
    directory.mkdir(parents=True)
    table = pa.Table.from_pylist(rows)
    size = -(-len(rows) // shards)
    names = [f"data-{index:05d}-of-{shards:05d}.arrow" for index in range(shards)]
    for index, name in enumerate(names):
        with pa.OSFile(str(directory / name), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table.slice(index * size, size))
    state = {
        "_data_files": [{"filename": name} for name in names],
        "_fingerprint": "0123456789abcdef",
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": "train",
    }
    (directory / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    info = {"citation": "", "description": "", "features": {name: {"_type": "Value"} for name in table.column_names}}
    (directory / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return directory


def test_a_parquet_file_of_chat_messages_is_a_pool(tmp_path: Path) -> None:
    path = tmp_path / "pool.parquet"
    pq.write_table(pa.Table.from_pylist([
        {"messages": _chat(("user", "Hi"), ("assistant", "Hello!")), "id": 1},
        {"messages": _chat(("system", "S"), ("user", "Q1"), ("assistant", "A1"), ("user", "Q2"), ("assistant", "A2")),
         "id": 2},
    ]), path)
    result = load_pool(path)

    assert result.ok, result.problems
    assert result.format == "messages" and result.format_detected
    assert result.items == (
        Demonstration.single("Hi", "Hello!", source=f"{path} row 0"),
        Demonstration.from_turns((Turn("Q1", "A1"), Turn("Q2", "A2")), source=f"{path} row 1"),
    )
    assert [str(w) for w in result.warnings] == [
        f"{path} row 1: warning: leading system message ignored (demonstrations and held-out prompts carry no "
        f"system prompt)"
    ]


def test_a_parquet_file_of_alpaca_rows_is_a_heldout_set(tmp_path: Path) -> None:
    path = tmp_path / "heldout.parquet"
    pq.write_table(pa.table({"instruction": ["Q1", "Q2"], "input": ["", "x"], "output": ["A1", None]}), path)
    result = load_heldout(path)

    assert result.ok, result.problems
    assert result.format == "alpaca"
    assert result.items == (
        HeldOutPrompt.create("Q1", reference="A1", source=f"{path} row 0"),
        HeldOutPrompt.create("Q2\n\nx", source=f"{path} row 1"),
    )


def test_a_saved_dataset_reads_every_shard_in_order(tmp_path: Path) -> None:
    rows = [{"messages": _chat(("user", f"Q{i}"), ("assistant", f"A{i}"))} for i in range(5)]
    directory = write_saved_dataset(tmp_path / "saved", rows, shards=2)
    assert sorted(p.name for p in directory.iterdir()) == [
        "data-00000-of-00002.arrow", "data-00001-of-00002.arrow", "dataset_info.json", "state.json",
    ]
    pool = load_pool(directory)

    assert pool.ok, pool.problems
    assert [(d.query, d.answer, d.source) for d in pool.items] == [
        (f"Q{i}", f"A{i}", f"{directory} row {i}") for i in range(5)
    ]
    heldout = load_heldout(directory, "messages")
    assert [(p.query, p.reference) for p in heldout.items] == [(f"Q{i}", f"A{i}") for i in range(5)]


def test_bad_rows_name_the_source_the_row_and_the_field(tmp_path: Path) -> None:
    rows = [
        {"messages": _chat(("user", "Q0"), ("assistant", "A0"))},
        {"messages": _chat(("user", "Q1"), ("tool", "{}"))},
        {"messages": _chat(("user", "Q2"), ("assistant", "A2"))},
        {"messages": [{"role": "user", "content": None}]},
    ]
    directory = write_saved_dataset(tmp_path / "saved", rows, shards=2)
    result = load_pool(directory)

    assert [str(problem) for problem in result.errors] == [
        f"{directory} row 1: field 'messages[1].role' must be one of 'system', 'user' or 'assistant', got 'tool'",
        f"{directory} row 3: field 'messages[0].content' must be a string, got null",
    ]
    assert [(p.line, p.unit, p.field) for p in result.errors] == [(1, "row", "messages[1].role"),
                                                                   (3, "row", "messages[0].content")]
    assert [d.query for d in result.items] == ["Q0", "Q2"]


def test_duplicate_rows_are_reported_by_row(tmp_path: Path) -> None:
    path = tmp_path / "pool.parquet"
    pq.write_table(pa.table({"prompt": ["Q", "Q", "Q"], "response": ["A", "A", "A"]}), path)
    result = load_pool(path)

    assert [str(w) for w in result.warnings] == [
        f"{path} row {row}: warning: duplicate of the pool item at {path} row 0 (same content, id "
        f"{result.items[0].id}); dropped"
        for row in (1, 2)
    ]


def test_a_dataset_dict_directory_names_its_splits(tmp_path: Path) -> None:
    root = tmp_path / "dict"
    write_saved_dataset(root / "train", [{"prompt": "Q", "response": "A"}])
    (root / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}), encoding="utf-8")

    assert [str(p) for p in load_pool(root).errors] == [
        f"{root}: is a DatasetDict saved to disk (splits: train, test), not one dataset; give the directory of one "
        f"split, e.g. {root / 'train'}"
    ]


def test_unreadable_tables_are_one_line_each(tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    (error,) = load_pool(broken).errors
    assert str(error).startswith(f"{broken}: cannot read the file as Parquet: ")

    directory = write_saved_dataset(tmp_path / "saved", [{"prompt": "Q", "response": "A"}])
    (directory / "data-00000-of-00001.arrow").write_bytes(b"garbage")
    (error,) = load_pool(directory).errors
    assert str(error).startswith(f"{directory}: cannot read data-00000-of-00001.arrow (listed in state.json) as an "
                                 f"Arrow stream: ")

    (directory / "state.json").write_text(json.dumps({"_data_files": []}), encoding="utf-8")
    assert [str(p) for p in load_pool(directory).errors] == [
        f"{directory}: state.json: expected '_data_files', a non-empty list of {{\"filename\": ...}} (as "
        f"Dataset.save_to_disk writes it)"
    ]
    parquet = tmp_path / "ok.parquet"
    pq.write_table(pa.table({"prompt": ["Q"], "response": ["A"]}), parquet)
    assert [str(p) for p in load_pool(parquet, "urial").errors] == [
        f"{parquet}: format urial needs a URIAL prompt file, not a table"
    ]


def test_without_pyarrow_one_line_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "pool.parquet"
    pq.write_table(pa.table({"prompt": ["Q"], "response": ["A"]}), path)
    directory = write_saved_dataset(tmp_path / "saved", [{"prompt": "Q", "response": "A"}])
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` raise ImportError

    assert [str(p) for p in load_pool(path).errors] == [
        f"{path}: reading a Parquet file needs pyarrow, which is not installed: pip install 'demo-search[formats]' "
        f"(or: pip install pyarrow)"
    ]
    assert [str(p) for p in load_heldout(directory).errors] == [
        f"{directory}: reading a saved Hugging Face dataset needs pyarrow, which is not installed: pip install "
        f"'demo-search[formats]' (or: pip install pyarrow)"
    ]


def test_a_config_takes_a_saved_dataset_and_fingerprints_its_contents(tmp_path: Path, monkeypatch) -> None:
    from demo_search.config import DB_ENV, compute_fingerprint, diff_fingerprints, load_config

    monkeypatch.delenv(DB_ENV, raising=False)
    write_saved_dataset(tmp_path / "pool", [{"prompt": "Q", "response": "A"}])
    pq.write_table(pa.table({"prompt": ["q"], "reference": ["r"]}), tmp_path / "heldout.parquet")
    config_path = tmp_path / "search.yaml"
    config_path.write_text("name: tables\nmodel: {path: tiny}\n"
                           "data: {pool: {path: pool}, heldout: {path: heldout.parquet, format: prompt_response}}\n",
                           encoding="utf-8")
    config = load_config(config_path)
    assert (config.data.pool.path, config.data.heldout.path) == (str(tmp_path / "pool"),
                                                                 str(tmp_path / "heldout.parquet"))
    old = compute_fingerprint(config)

    write_saved_dataset(tmp_path / "moved", [{"prompt": "Q", "response": "A"}])
    assert compute_fingerprint(load_config(config_path, ["data.pool.path=moved"])) == old
    shard = tmp_path / "pool" / "data-00000-of-00001.arrow"
    shard.unlink()
    with pa.OSFile(str(shard), "wb") as sink:
        table = pa.table({"prompt": ["Q"], "response": ["changed"]})
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    assert diff_fingerprints(old.parts, compute_fingerprint(load_config(config_path))) == ["data.pool.path (contents)"]
