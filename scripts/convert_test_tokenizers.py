"""Convert real tokenizers, once, into the small files the tests load from ``tests/data/tokenizers/`` (no hub).

Sources (see ``tests/data/tokenizers/README.md`` for versions and licences):

* ``--llama-cpp DIR``: ``vendor/llama.cpp/models`` of the llama-cpp-python sdist
  (``pip download --no-binary :all: --no-deps llama-cpp-python``): the vocab-only GGUF files
  ``ggml-vocab-llama-bpe.gguf`` (Llama-3), ``ggml-vocab-qwen2.gguf`` and ``ggml-vocab-gpt-neox.gguf``;
* ``--mistral-common DIR``: ``mistral_common/data`` of the mistral_common wheel (``pip download mistral_common``):
  ``tokenizer.model.v1`` (Mistral-7B-v0.1's SentencePiece model) and ``tekken_240718.json`` (Mistral NeMo's tekken).

Needs, for the conversion only: ``gguf``, ``sentencepiece``, ``protobuf`` and ``mistral_common`` (with its own
dependencies: ``tiktoken``, ``pillow``, ``pydantic-extra-types``, ``pycountry``) next to transformers.
Every converted tokenizer is checked against an independent reference before it is written: llama.cpp's own
tokenizer test vectors (``*.gguf.inp`` / ``*.gguf.out``) for Llama-3 and Qwen2, ``sentencepiece`` itself for the
SentencePiece model, mistral_common's ``Tekkenizer`` for tekken, and known ids for GPT-NeoX.

    python scripts/convert_test_tokenizers.py --llama-cpp .../vendor/llama.cpp/models \
        --mistral-common .../mistral_common/data --out tests/data/tokenizers
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger("convert_test_tokenizers")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_FILES = ("urial.txt", "urial.plus.best_4-5-6.txt", "mt_bench_question.jsonl")


def sample_texts() -> list[str]:
    """Texts to compare a conversion with its reference on: the shared URIAL and MT-Bench data, plus edge cases."""
    data = REPO / "data" / "icl-alignment"
    texts = [(data / name).read_text(encoding="utf-8") for name in SAMPLE_FILES]
    texts += ["\n\n# Query:\n```\nHi\n```", "  two  spaces\tand tabs\r\n", "ü ✓ 数字 123456 <s> </s>", " x", "x"]
    return texts


def with_bos(raw, bos: str, bos_id: int):
    """``raw`` with a post-processor that puts ``bos`` first (the hub configs of Llama-3 and Mistral do this)."""
    from tokenizers import processors

    template = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)]
    )
    raw.post_processor = (
        processors.Sequence([raw.post_processor, template]) if raw.post_processor is not None else template
    )
    return raw


def gguf_fields(path: Path) -> dict:
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    return {key: field.contents() for key, field in reader.fields.items() if key.startswith("tokenizer.")}


def from_gguf(models: Path, name: str, *, adds_bos: bool, has_bos: bool = True, ignore_merges: bool = False):
    """A GGUF vocabulary through transformers' GGUF converter, set up as the model's hub config does.

    The vocab-only GGUF files carry no ``add_bos_token``: ``adds_bos`` says whether the hub tokenizer puts the BOS
    token first (Llama-3: yes, Qwen2: no), ``has_bos`` whether it declares one at all (Qwen2's has
    ``bos_token: null``). ``ignore_merges``: a pre-token that is itself in the vocabulary is one token (Llama-3's
    hub tokenizer.json sets it; the GGUF converter does not, and llama.cpp's test vectors fail without it).
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(models), gguf_file=f"ggml-vocab-{name}.gguf")
    raw = tokenizer.backend_tokenizer
    if ignore_merges:
        raw.model.ignore_merges = True
    fields = gguf_fields(models / f"ggml-vocab-{name}.gguf")
    bos_id = int(fields["tokenizer.ggml.bos_token_id"])
    if adds_bos:
        raw = with_bos(raw, raw.id_to_token(bos_id), bos_id)
    specials = special_tokens(raw, fields)
    if not has_bos:
        specials["bos_token"] = None
    return raw, specials


def special_tokens(raw, fields: dict) -> dict:
    names = {"bos_token": "bos_token_id", "eos_token": "eos_token_id", "unk_token": "unknown_token_id"}
    found = {}
    for name, key in names.items():
        value = fields.get(f"tokenizer.ggml.{key}")
        if value is not None:
            found[name] = raw.id_to_token(int(value))
    return found


def gpt_neox(models: Path):
    """GPT-NeoX-20B's tokenizer rebuilt from its GGUF vocabulary (transformers' GGUF loader lacks this architecture):
    the hub's tokenizer.json is byte-level BPE with NFC, GPT-2's pre-split, no BOS added, and its special and
    whitespace-run tokens as added tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, models as tk_models, normalizers, pre_tokenizers, processors

    fields = gguf_fields(models / "ggml-vocab-gpt-neox.gguf")
    tokens, types = fields["tokenizer.ggml.tokens"], fields["tokenizer.ggml.token_type"]
    merges = [tuple(m.split(" ")) for m in fields["tokenizer.ggml.merges"]]
    raw = Tokenizer(tk_models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, unk_token=None))
    raw.normalizer = normalizers.NFC()
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    raw.post_processor = processors.ByteLevel(trim_offsets=True)
    raw.decoder = decoders.ByteLevel()
    control = [AddedToken(t, special=True, normalized=False) for t, k in zip(tokens, types) if k == 3]
    user = [AddedToken(t, special=False, normalized=True) for t, k in zip(tokens, types) if k == 4]
    raw.add_special_tokens(control)
    raw.add_tokens(user)
    return raw, special_tokens(raw, fields)


def mistral_sentencepiece(mistral: Path, *, legacy: bool):
    """Mistral-7B-v0.1's tokenizer as transformers builds it from the SentencePiece model and the hub's config
    (``legacy`` as given, ``add_bos_token: true``)."""
    import shutil
    import tempfile

    from transformers import LlamaTokenizer

    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(mistral / "tokenizer.model.v1", Path(folder) / "tokenizer.model")
        tokenizer = LlamaTokenizer.from_pretrained(folder, legacy=legacy, add_bos_token=True)
    return tokenizer.backend_tokenizer, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


def mistral_tekken(mistral: Path):
    from transformers.integrations.mistral.tokenizer import convert_tekken_tokenizer

    tokenizer = convert_tekken_tokenizer(str(mistral / "tekken_240718.json"), chat_template="")
    raw = tokenizer.backend_tokenizer
    raw = with_bos(raw, "<s>", raw.token_to_id("<s>"))
    return raw, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


# -- references ---------------------------------------------------------------------------------------------


def check_llama_cpp_vectors(models: Path, name: str) -> Callable:
    """llama.cpp's test vectors: each input of ``.inp`` (split by its marker) with the ids of ``.out``."""
    inputs = (models / f"ggml-vocab-{name}.gguf.inp").read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")
    outputs = (models / f"ggml-vocab-{name}.gguf.out").read_text(encoding="utf-8").strip("\n").split("\n")
    pairs = [(text, [int(x) for x in ids.split()]) for text, ids in zip(inputs, outputs)]

    def check(raw) -> int:
        for text, ids in pairs:
            got = raw.encode(text, add_special_tokens=False).ids
            if got != ids:
                raise RuntimeError(f"{name}: {text!r} -> {got} but llama.cpp expects {ids}")
        return len(pairs)

    return check


def compare_plain_text(raw, name: str, texts: list[str], expected_ids: Callable[[str], list[int]]) -> int:
    """Encode each of ``texts`` with ``raw`` (special-token text as plain text, BOS added) and raise at the first
    token that differs from ``expected_ids(text)``; the number of texts compared."""
    raw.encode_special_tokens = True
    try:
        for text in texts:
            expected = expected_ids(text)
            got = raw.encode(text, add_special_tokens=True).ids
            if got != expected:
                at = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
                raise RuntimeError(f"{name} differs at token {at}: {got[at:at + 5]} vs {expected[at:at + 5]}")
    finally:
        raw.encode_special_tokens = False
    return len(texts)


def check_sentencepiece(mistral: Path) -> Callable:
    """``sentencepiece`` itself on the sample texts with runs of spaces made single: transformers' Metaspace handling
    of a leading space and of space runs is its own (and is what vLLM and the engines use), the vocabulary and
    merges must be SentencePiece's."""
    import re

    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=str(mistral / "tokenizer.model.v1"))

    def check(raw) -> int:
        texts = [re.sub(" +", " ", text).lstrip(" ") for text in sample_texts()]
        return compare_plain_text(raw, "sentencepiece", texts, lambda text: [processor.bos_id(), *processor.encode(text)])

    return check


def check_tekkenizer(mistral: Path) -> Callable:
    """mistral_common's own ``Tekkenizer`` (BOS first, special-token text as plain text)."""
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer

    reference = Tekkenizer.from_file(str(mistral / "tekken_240718.json"))

    def check(raw) -> int:
        return compare_plain_text(raw, "tekken", sample_texts(), lambda text: reference.encode(text, bos=True, eos=False))

    return check


def check_gpt_neox(raw) -> int:
    """Known GPT-NeoX-20B / Pythia ids, and that no BOS is added."""
    known = {"Hello world": [12092, 1533], "x": [89]}
    for text, ids in known.items():
        got = raw.encode(text).ids
        if got != ids:
            raise RuntimeError(f"gpt-neox: {text!r} -> {got}, expected {ids}")
    return len(known)


def write(out: Path, name: str, raw, specials: dict, extra: dict) -> None:
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "tokenizer.json.gz", "wb") as file:  # mtime 0: the same input gives the same bytes
        with gzip.GzipFile(fileobj=file, mode="wb", compresslevel=9, mtime=0) as handle:
            handle.write(raw.to_str().encode("utf-8"))
    config = {**specials, "clean_up_tokenization_spaces": False, **extra}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    size = (folder / "tokenizer.json.gz").stat().st_size / 1e6
    logger.info("%s: %d tokens, %.1f MB gzipped", name, raw.get_vocab_size(), size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llama-cpp", type=Path, required=True, help="vendor/llama.cpp/models of the sdist")
    parser.add_argument("--mistral-common", type=Path, required=True, help="mistral_common/data of the wheel")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "tokenizers")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    models, mistral = args.llama_cpp, args.mistral_common
    jobs = [
        (
            "llama3",
            lambda: from_gguf(models, "llama-bpe", adds_bos=True, ignore_merges=True),
            check_llama_cpp_vectors(models, "llama-bpe"),
            {},
        ),
        (
            "qwen2",
            lambda: from_gguf(models, "qwen2", adds_bos=False, has_bos=False),
            check_llama_cpp_vectors(models, "qwen2"),
            {},
        ),
        ("gpt-neox", lambda: gpt_neox(models), check_gpt_neox, {}),
        (
            "mistral-v1-legacy",
            lambda: mistral_sentencepiece(mistral, legacy=True),
            check_sentencepiece(mistral),
            {"legacy": True},
        ),
        (
            "mistral-v1",
            lambda: mistral_sentencepiece(mistral, legacy=False),
            check_sentencepiece(mistral),
            {"legacy": False},
        ),
        ("mistral-tekken", lambda: mistral_tekken(mistral), check_tekkenizer(mistral), {}),
    ]
    for name, build, check, extra in jobs:
        raw, specials = build()
        if check is not None:
            logger.info("%s: %d reference comparisons passed", name, check(raw))
        write(args.out, name, raw, specials, extra)


if __name__ == "__main__":
    main()
