"""Engine implementations, built from an ``EngineSpec``; heavy imports happen only when one is built."""

from __future__ import annotations

from workers.engine import Engine
from workers.spec import EngineSpec


def create_engine(spec: EngineSpec) -> Engine:
    """Build the engine ``spec`` describes (imports torch/transformers or vLLM lazily)."""
    if spec.kind == "transformers":
        from workers.engines.transformers_engine import TransformersEngine

        return TransformersEngine.from_spec(spec)
    from workers.engines.vllm_engine import VLLMEngine

    return VLLMEngine.from_spec(spec)
