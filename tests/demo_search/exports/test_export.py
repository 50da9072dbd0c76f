"""``demo-search export``: the JSON document (checked against the shipped JSON Schema with ``jsonschema``, not
with the exporter's own model), demonstrations in prompt order for both insertion positions, the trajectory as
``status`` shows it, and the URIAL prompt file read back by the template parser.

Two real searches (greedy, 2 steps, loglik on the random tiny model, 2 fixed demonstrations) are run once for
the module through ``demo-search run -o`` in this process, one per insertion position.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from db import Store
from demo_search.exports import ExportDocument, ExportError
from demo_search.templates import load_urial, parse_urial
from demo_search.types import Demonstration
from demo_search.version import __version__
from tests.support import harness
from tests.support.harness import SearchData

pytestmark = pytest.mark.slow

SCHEMA_FILE = harness.REPO / "demo_search" / "exports" / "schema.json"
STEPS = 2
POSITIONS = ("before_fixed", "after_fixed")



@dataclass(frozen=True)
class Finished:
    """A finished search, the file ``run -o`` wrote, and its inputs."""

    name: str
    position: str
    files: SearchData
    db_url: str
    run_export: Path


@pytest.fixture(scope="module")
def searches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Finished]:
    harness.ray_address()
    model = harness.random_model_dir(tmp_path_factory.getbasetemp())
    root = tmp_path_factory.mktemp("export")
    files = harness.write_search_data(root / "data", model, prompts=4)
    db = root / "exports.db"
    finished = {}
    for position in POSITIONS:
        name = f"export-{position}"
        config = harness.write_config(
            root / f"{name}.yaml", files, name=name, db=db,
            template={"position": position}, strategy={"max_steps": STEPS},
        )
        output = root / f"{name}.run.json"
        result = harness.invoke("run", str(config), "-o", str(output))
        assert result.exit_code == 0, result.output
        finished[position] = Finished(name, position, files, harness.sqlite_url(db), output)
    return finished


def export_json(search: Finished, path: Path) -> dict:
    result = harness.invoke("export", search.name, "-o", str(path), "--db", search.db_url)
    assert result.exit_code == 0, result.output
    assert f"exported search {search.name} (json) to {path}" in result.output
    return json.loads(path.read_text(encoding="utf-8"))


def turns(demo: Demonstration) -> list[dict[str, str]]:
    return [{"query": t.query, "answer": t.answer} for t in demo.turns]


@pytest.mark.parametrize("position", POSITIONS)
def test_the_json_export_validates_and_holds_the_demonstrations_in_prompt_order(
    searches: dict[str, Finished], position: str, tmp_path: Path
) -> None:
    search = searches[position]
    document = export_json(search, tmp_path / "best.json")

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert [e.message for e in Draft202012Validator(schema).iter_errors(document)] == []

    chosen = [row["chosen"] for row in document["trajectory"] if row["chosen"] is not None]
    assert len(chosen) == STEPS
    fixed_ids = [d.id for d in search.files.fixed_items]
    expected_ids = [*chosen, *fixed_ids] if position == "before_fixed" else [*fixed_ids, *chosen]
    demos = document["demonstrations"]
    assert [d["id"] for d in demos] == expected_ids
    by_id = {d.id: d for d in (*search.files.pool_items, *search.files.fixed_items)}
    for demo in demos:
        assert demo["turns"] == turns(by_id[demo["id"]])
        if demo["id"] in chosen:
            assert (demo["role"], demo["step"]) == ("selected", chosen.index(demo["id"]) + 1)
        else:
            assert demo["role"] == "fixed" and demo["step"] is None

    # The rendered prompt is the rules and the same demonstrations, in the same order.
    assert document["template"]["position"] == position
    rules = search.files.rules.read_text(encoding="utf-8")
    assert document["template"]["rules"] == rules
    rendered = parse_urial(document["prompt"]["text"])
    assert rendered.rules == rules
    assert [(d.id, turns(d)) for d in rendered.demonstrations] == [(d["id"], d["turns"]) for d in demos]

    with Store.open(search.db_url, create=False) as store:
        stored = store.get_search(search.name)
    assert document["search"]["name"] == search.name and document["search"]["status"] == "finished"
    assert document["search"]["stop_reason"] == f"max_steps ({STEPS}) reached"
    assert document["model"]["path"] == str(search.files.model) and document["model"]["engine"] == "transformers"
    assert document["decoding"]["searched"]["max_tokens"] == 12
    provenance = document["provenance"]
    assert provenance["config_fingerprint"] == stored.fingerprint
    assert provenance["demo_search_version"] == __version__
    assert provenance["created_at"] <= provenance["finished_at"] <= provenance["exported_at"]

    # `run -o` wrote the same document.
    from_run = json.loads(search.run_export.read_text(encoding="utf-8"))
    for doc in (from_run, document):
        del doc["provenance"]["exported_at"]
    assert from_run == document


def test_the_trajectory_of_the_export_is_the_one_status_prints(searches: dict[str, Finished], tmp_path: Path) -> None:
    search = searches["before_fixed"]
    document = export_json(search, tmp_path / "best.json")
    status = harness.invoke("status", search.name, "--db", search.db_url)
    assert status.exit_code == 0, status.output
    assert f"{search.name} — finished; {STEPS + 1} step(s) recorded" in status.output

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    def tried(row: dict) -> str:
        return str(row["candidates"]) + (f" ({row['skipped']} skipped)" if row["skipped"] else "")

    expected = [
        [
            str(row["step"]), row["chosen"] or "base set", f"{shown(row['score'])} ± {shown(row['stderr'])}",
            str(row["n"]), row["runner_up"] or "-", shown(row["runner_up_score"]), tried(row),
        ]
        for row in document["trajectory"]
    ]
    assert harness.status_rows(status.output) == expected
    assert [row["candidates"] for row in document["trajectory"]] == [1, 6, 5]


@pytest.mark.parametrize("position", POSITIONS)
def test_the_urial_export_reads_back_to_the_same_rules_and_demonstrations(
    searches: dict[str, Finished], position: str, tmp_path: Path
) -> None:
    search = searches[position]
    document = export_json(search, tmp_path / "best.json")
    prompt_file = tmp_path / "best.urial.txt"
    result = harness.invoke("export", search.name, "--format", "urial", "-o", str(prompt_file), "--db", search.db_url)
    assert result.exit_code == 0, result.output

    parsed = load_urial(prompt_file)
    assert parsed.rules == document["template"]["rules"]
    assert [(d.id, turns(d)) for d in parsed.demonstrations] == [
        (d["id"], d["turns"]) for d in document["demonstrations"]
    ]


def test_exports_that_cannot_be_made_say_why(searches: dict[str, Finished], tmp_path: Path) -> None:
    db_url = searches["before_fixed"].db_url
    with Store.open(db_url, create=False) as store:
        store.create_search("never-ran", config={}, fingerprint="0" * 64, fingerprint_parts={})
    output = tmp_path / "none.json"

    result = harness.invoke("export", "never-ran", "-o", str(output), "--db", db_url)
    assert result.exit_code == 1, result.output
    assert "search 'never-ran' has no recorded step yet" in result.output
    assert "run or resume it until the base set is scored" in result.output
    result = harness.invoke("export", "export-before-fixd", "-o", str(output), "--db", db_url)
    assert result.exit_code == 1, result.output
    assert "no search named 'export-before-fixd'" in result.output and "did you mean 'export-before_fixed'" in result.output
    result = harness.invoke("export", "export-before_fixed", "--format", "yaml", "-o", str(output), "--db", db_url)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--format'" in result.output and "'yaml' is not one of 'json'" in result.output
    assert not output.exists()


def test_a_document_that_breaks_the_schema_is_refused_naming_the_json_paths(
    searches: dict[str, Finished], tmp_path: Path
) -> None:
    document = export_json(searches["after_fixed"], tmp_path / "best.json")
    broken = copy.deepcopy(document)
    del broken["demonstrations"][0]["turns"]
    broken["format_version"] = 2
    with pytest.raises(ExportError) as raised:
        ExportDocument.from_payload(broken)
    assert raised.value.summary == "the export document does not match its schema"
    assert any(p.startswith("$.format_version: ") for p in raised.value.problems)
    assert "$.demonstrations[0].turns: Field required" in raised.value.problems
