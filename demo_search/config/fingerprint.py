"""The fingerprint of a search configuration: what a resumed search must share with the stored one.

Rule (``FINGERPRINT_VERSION`` 1). The fingerprint covers every field that changes results, one *part* per key
path, each part the SHA-256 of the value's canonical JSON (sorted keys, no whitespace, UTF-8):

* every leaf of ``seed``, ``model``, ``template``, ``data``, ``strategy``, ``scorer`` and ``decoding``
  (``model.options`` and ``decoding.stop`` are one part each; engine options count whole, since which of them
  change results is the engine's business), except the fields below;
* files by their **contents**, not their path (moving a file changes nothing, editing it does):
  ``data.pool.path``, ``data.heldout.path``, ``data.test.path``, ``template.rules_file``,
  ``template.fixed_demos_file``, under the key ``"<key path> (contents)"``; an unset optional file hashes as
  ``null`` under the same key (but an unset ``data.test`` section adds no part at all, so configurations without
  a test split keep the digest they had before it existed); a data path that
  is a saved dataset directory hashes like a model directory below, but every file by its whole contents;
* local models (``model.path``, ``scorer.judge.model``, ``scorer.reward.model``) by the contents of their
  directory under ``"<key path> (contents)"``: every file except hidden ones, by relative name and size, and
  by the SHA-256 of its whole contents when at most 64 MiB, else of its first and last 4 MiB (weight shards
  stay fast to fingerprint). A hub id is fingerprinted by its text under ``"<key path> (hub id)"``, and its
  ``model.revision`` as a leaf (unset: no difference from a search stored before the key existed, see below).
* a custom scorer (``scorer.kind: custom``) by its leaves ``scorer.custom.name`` and ``scorer.custom.version``:
  the function's code is the user's, so its name and declared version stand for it. ``run_search`` records the
  version of the function it found before fingerprinting (``demo_search.scoring.custom``), so a resume that
  would score with another version of the function, or another function, is refused like any other change.

Excluded, because they do not change results or must change for a search to be extended or moved:
``name``; ``database``; ``workers``; ``tuning`` (decoding tuning runs after the demonstration search and
keeps its own study; it never changes the search's results); ``strategy.max_steps`` and ``strategy.budget`` (so a
finished search can be continued with more steps or budget); ``data.test_every_step`` (when the test split is
scored changes no selection); ``strategy.on_failed_candidate`` (so a step that failed can be resumed with ``skip``;
each recorded step names the candidates it skipped, and replay reads them); ``strategy.reuse_evaluations`` (a
reused evaluation is the one computing it would give); ``model.batch_size`` and ``model.tensor_parallel_size``
(how work is spread); the sections of the scorers that ``scorer.kind`` does not select; the judge's transport settings
``scorer.judge.base_url``, ``api_key_env``, ``timeout_s``, ``max_retries`` and ``concurrency``, and its
``price`` (what a judgement costs changes no judgement); and ``strategy.racing`` while ``strategy.racing.enabled``
is false (racing off is exactly the search without racing, with the fingerprint it had before the setting existed;
turned on, all its settings count).

The overall ``digest`` is the SHA-256 of the canonical JSON of the parts, so it is independent of key order and
equal for equal configurations. ``diff_fingerprints`` names the parts that differ; a setting added to the schema
after a search was stored is no difference while it is at its default (so upgrading never strands a search).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from demo_search.config.paths import is_local_model, model_directory
from demo_search.config.schema import SearchConfig
from demo_search.errors import ConfigError

FINGERPRINT_VERSION = 1

EXCLUDED = frozenset({
    "name",
    "database",
    "workers",
    "tuning",
    "strategy.max_steps",
    "strategy.budget",
    "strategy.on_failed_candidate",
    "data.test_every_step",
    "strategy.reuse_evaluations",
    "model.batch_size",
    "model.tensor_parallel_size",
    "scorer.judge.base_url",
    "scorer.judge.api_key_env",
    "scorer.judge.timeout_s",
    "scorer.judge.max_retries",
    "scorer.judge.concurrency",
    "scorer.judge.price",
})
DATA_FILES = frozenset({
    "data.pool.path", "data.heldout.path", "data.test.path", "template.rules_file", "template.fixed_demos_file"
})
ABSENT_WHEN_UNSET = frozenset({"data.test"})
"""Optional sections added after searches were stored: unset, they add no part at all (so the digest of a
configuration without them is what it was); set, their leaves are parts like any other."""
MODELS = frozenset({"model.path", "scorer.judge.model", "scorer.reward.model"})
SCORER_SECTIONS = frozenset({"match", "judge", "reward", "custom"})
RACING = "strategy.racing"

FULL_HASH_LIMIT = 64 * 1024 * 1024
SAMPLE_BYTES = 4 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Fingerprint:
    """``digest``: the overall hash; ``parts``: key path (with a `` (contents)`` / `` (hub id)`` suffix for
    files and models) -> hash of that part; ``defaults``: key path -> the hash that part has at the field's
    default (plain settings with a default only; not stored, used by ``diff_fingerprints``)."""

    digest: str
    parts: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _open_for_hash(path: Path, key: str):
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise ConfigError("cannot fingerprint the configuration", [f"{key}: file not found: {path}"]) from None
    except OSError as error:
        raise ConfigError("cannot fingerprint the configuration",
                          [f"{key}: cannot read {path}: {error.strerror}"]) from None


def file_digest(path: Path, key: str) -> str:
    """SHA-256 of a whole file; a missing or unreadable file is a ``ConfigError`` naming ``key``."""
    digest = hashlib.sha256()
    with _open_for_hash(path, key) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sampled_digest(path: Path, size: int, key: str) -> str:
    digest = hashlib.sha256()
    with _open_for_hash(path, key) as handle:
        digest.update(handle.read(SAMPLE_BYTES))
        handle.seek(size - SAMPLE_BYTES)
        digest.update(handle.read(SAMPLE_BYTES))
    return digest.hexdigest()


def model_dir_digest(directory: Path, key: str) -> str:
    """The contents hash of a model directory (see the module docstring for which bytes are read)."""
    if not directory.is_dir():
        raise ConfigError("cannot fingerprint the configuration", [f"{key}: model directory not found: {directory}"])
    return _directory_digest(directory, key, sample_large=True)


def data_path_digest(path: Path, key: str) -> str:
    """The contents hash of a data file, or of a saved dataset directory (every file hashed whole)."""
    return _directory_digest(path, key, sample_large=False) if path.is_dir() else file_digest(path, key)


def _directory_digest(directory: Path, key: str, *, sample_large: bool) -> str:
    manifest = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        size = path.stat().st_size
        sampled = sample_large and size > FULL_HASH_LIMIT
        digest = _sampled_digest(path, size, key) if sampled else file_digest(path, key)
        manifest.append([relative.as_posix(), size, digest])
    return _sha256_text(canonical_json(manifest))


def _leaves(model: BaseModel, dumped: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any, FieldInfo]]:
    for name, info in type(model).model_fields.items():
        path = f"{prefix}{name}"
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _leaves(value, dumped[name], f"{path}.")
        else:
            yield path, dumped[name], info


def _default_hash(info: FieldInfo) -> str | None:
    """The part hash of a field left at its default (``None`` for a required field)."""
    if info.is_required():
        return None
    default = info.get_default(call_default_factory=True)
    return _sha256_text(canonical_json(TypeAdapter(info.annotation).dump_python(default, mode="json")))


def _included(path: str, scorer_kind: str, racing: bool) -> bool:
    if any(path == excluded or path.startswith(f"{excluded}.") for excluded in EXCLUDED):
        return False
    if path.startswith(f"{RACING}.") and not racing:
        return False
    section = path.split(".")
    return not (section[0] == "scorer" and len(section) > 1 and section[1] in SCORER_SECTIONS
                and section[1] != scorer_kind)


def compute_fingerprint(config: SearchConfig) -> Fingerprint:
    """The fingerprint of ``config``; reads the data files and model directories it names.

    Raises ``ConfigError`` when a referenced file has disappeared since the config was loaded.
    """
    parts = {"fingerprint_version": _sha256_text(canonical_json(FINGERPRINT_VERSION))}
    defaults = {}
    for path, value, info in _leaves(config, config.model_dump(mode="json"), ""):
        if not _included(path, config.scorer.kind, config.strategy.racing.enabled) or (
            path in ABSENT_WHEN_UNSET and value is None
        ):
            continue
        if path in DATA_FILES:
            parts[f"{path} (contents)"] = (data_path_digest(Path(value), path) if value is not None
                                           else _sha256_text(canonical_json(None)))
        elif path in MODELS and value is not None and is_local_model(value):
            parts[f"{path} (contents)"] = model_dir_digest(Path(model_directory(value)), path)
        elif path in MODELS and value is not None:
            parts[f"{path} (hub id)"] = _sha256_text(canonical_json(value))
        else:
            parts[path] = _sha256_text(canonical_json(value))
            default = _default_hash(info)
            if default is not None:
                defaults[path] = default
    return Fingerprint(digest=_sha256_text(canonical_json(parts)), parts=parts, defaults=defaults)


def diff_fingerprints(old_parts: Mapping[str, str], new: Fingerprint) -> list[str]:
    """The part keys whose hashes differ or that only one side has, sorted; a key only ``new`` has is no
    difference when its value is the field's default (a setting added in a later version, left at the default
    that keeps the earlier behaviour, so searches stored before it existed still resume).

    For a message such as ``refusing to resume: config differs in decoding.temperature, data.pool.path
    (contents)``.
    """
    differs = []
    for key in sorted(old_parts.keys() | new.parts.keys()):
        if key not in old_parts and new.parts[key] == new.defaults.get(key):
            continue
        if old_parts.get(key) != new.parts.get(key):
            differs.append(key)
    return differs
