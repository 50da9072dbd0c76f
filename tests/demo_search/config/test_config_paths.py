"""Model locations (``demo_search.config.paths``): hub ids, local directories and the bundled tiny model."""

from __future__ import annotations

import workers.tiny
from demo_search.assembly import engine_spec
from demo_search.config import load_config
from demo_search.inputs import model_source
from tests.demo_search.config.config_files import BASE, problems_of, write
from workers.model_source import ModelSource


def test_hub_id_is_kept_and_not_checked_on_disk(workspace):
    config = load_config(write(workspace, BASE.replace("{path: model}", "{path: meta-llama/Llama-2-7b-hf}")))
    assert config.model.path == "meta-llama/Llama-2-7b-hf"
    assert model_source(config) == ModelSource("meta-llama/Llama-2-7b-hf")


def test_missing_local_model_directory_is_reported(workspace):
    path = write(workspace, BASE.replace("{path: model}", "{path: ./models/llama}"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:2: model.path: model directory not found: {workspace / 'models' / 'llama'} ")


def test_directory_without_config_json_is_not_a_model(workspace):
    (workspace / "empty").mkdir()
    path = write(workspace, BASE.replace("{path: model}", "{path: empty}"))
    assert problems_of(path) == (
        f"{path}:2: model.path: {workspace / 'empty'} is not a model directory (expected a directory holding "
        "config.json)",
    )


def test_tiny_alias_means_the_bundled_model(workspace, monkeypatch):
    monkeypatch.setattr(workers.tiny, "MODEL_DIR", workspace / "model")
    config = load_config(write(workspace, BASE.replace("model: {path: model}\n", "")))
    assert config.model.path == "tiny"
    assert engine_spec(config).model == str(workspace / "model")


def test_missing_bundled_model_is_reported(workspace, monkeypatch):
    monkeypatch.setattr(workers.tiny, "MODEL_DIR", workspace / "no-model")
    path = write(workspace, BASE.replace("{path: model}", "{path: tiny}"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:2: model.path: the bundled tiny model is missing at {workspace / 'no-model'}")
