"""A serialisable description of an engine, so a Ray actor can build it where it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

EngineKind = Literal["transformers", "vllm"]


@dataclass(frozen=True)
class EngineSpec:
    """Which engine to build, on which model directory, with which settings.

    ``max_context`` of ``None`` means the model's own limit. ``batch_size`` bounds how many leaves the
    transformers engine runs at once (its memory is bounded by it). ``options`` holds engine-specific
    keyword arguments passed through unchanged (e.g. ``gpu_memory_utilization`` for vLLM).
    """

    kind: EngineKind
    model: str
    dtype: str = "float32"
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
