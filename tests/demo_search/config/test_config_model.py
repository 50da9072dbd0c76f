"""The ``model`` section's own rules: revision for hub ids only, dtype auto by default, GPU memory shares."""

from __future__ import annotations

from demo_search.config import load_config
from demo_search.inputs import model_source
from tests.demo_search.config.config_files import BASE, problems_of, write
from workers.model_source import ModelSource


def test_a_hub_id_takes_a_revision_and_a_local_directory_does_not(workspace):
    hub = load_config(write(workspace, BASE.replace("{path: model}", "{path: org/name, revision: v1.0}")))
    assert model_source(hub) == ModelSource("org/name", "v1.0")
    path = write(workspace, BASE.replace("{path: model}", "{path: model, revision: v1.0}"))
    (problem,) = problems_of(path)
    assert f"model.revision is 'v1.0' but model.path {str(workspace / 'model')!r} is a local directory" in problem


def test_dtype_and_context_default_to_the_device_and_the_model(workspace):
    model = load_config(write(workspace, BASE)).model
    assert (model.dtype, model.max_context, model.revision) == ("auto", None, None)


def test_an_explicit_memory_share_above_the_gpu_fraction_is_refused(workspace):
    text = BASE.replace("{path: model}", "{path: model, engine: vllm, options: {gpu_memory_utilization: 0.9}}")
    problems = problems_of(write(workspace, text + "workers: {gpus_per_worker: 0.5}\n"))
    assert any("model.options.gpu_memory_utilization is 0.9 but workers.gpus_per_worker is 0.5" in p for p in problems)
    whole_gpu = load_config(write(workspace, text + "workers: {gpus_per_worker: 1.0}\n"))
    assert whole_gpu.model.options == {"gpu_memory_utilization": 0.9}


def test_engine_options_are_for_vllm_only(workspace):
    text = BASE.replace("{path: model}", "{path: model, options: {gpu_memory_utilization: 0.9}}")
    (problem,) = problems_of(write(workspace, text))
    assert "model.options ['gpu_memory_utilization'] are passed to vLLM, but model.engine is 'transformers'" in problem
