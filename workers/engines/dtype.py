"""What ``dtype: auto`` means on the device an engine runs on (decided on the actor, where the device is known)."""

from __future__ import annotations

AUTO = "auto"


def resolve_dtype(dtype: str, device: str) -> str:
    """``dtype`` itself unless it is ``"auto"``; ``"auto"`` is bfloat16 on a CUDA device that supports it, float16
    on an older CUDA device, and float32 anywhere else (CPU: bfloat16 there is slow or emulated on most hosts)."""
    if dtype != AUTO:
        return dtype
    if not device.startswith("cuda"):
        return "float32"
    import torch

    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
