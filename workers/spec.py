"""A serialisable description of an engine, so a Ray actor can build it where it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from workers.model_source import ModelSource

EngineKind = Literal["transformers", "vllm"]


@dataclass(frozen=True)
class EngineSpec:
    """Which engine to build, on which model, with which settings.

    ``model`` is a local model directory or a Hugging Face hub id; ``revision`` (hub ids only) is the branch,
    tag or commit to load, resolved by each actor through its own machine's Hugging Face cache
    (``workers.model_source``). ``dtype`` ``"auto"`` is resolved where the engine runs: bfloat16 on a GPU that
    supports it (float16 on one that does not), float32 on CPU. ``max_context`` of ``None`` means the model's own
    limit. ``batch_size`` bounds how many leaves the
    transformers engine runs at once (its memory is bounded by it). ``options`` holds engine-specific
    keyword arguments passed through unchanged (e.g. ``gpu_memory_utilization`` for vLLM).
    """

    kind: EngineKind
    model: str
    revision: str | None = None
    dtype: str = "auto"
    device: str = "cpu"
    max_context: int | None = None
    batch_size: int = 8
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("transformers", "vllm"):
            raise ValueError(f"engine kind must be 'transformers' or 'vllm', got {self.kind!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_context is not None and self.max_context < 1:
            raise ValueError(f"max_context must be >= 1, got {self.max_context}")

    @property
    def source(self) -> ModelSource:
        """Where the engine loads the model from (location and revision)."""
        return ModelSource(self.model, self.revision)
