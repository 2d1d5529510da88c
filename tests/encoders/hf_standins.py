"""Tiny random stand-ins for the Hugging Face files laion_clap loads, in a private HF cache.

laion_clap's import loads the tokenizers of ``roberta-base``,
``bert-base-uncased`` and ``facebook/bart-base``; building a
``CLAP_Module`` loads ``roberta-base`` (hidden size 768, which laion_clap
hard-codes). :func:`build_hf_standins` writes, in the hub-cache layout
(``hub/models--ORG--NAME/{refs/main, snapshots/REV/...}``), a byte-level
BPE tokenizer with no merges for the two BPE models, a 31-letter wordpiece
vocabulary for BERT, and a one-layer random RoBERTa with 80 positions
(77 tokens + RoBERTa's padding offset). With ``HF_HOME`` pointing at the
folder and ``HF_HUB_OFFLINE=1`` the unmodified laion_clap code resolves
them without network access. transformers must not have been imported
before ``HF_HOME`` was set.
"""

from __future__ import annotations

import json
from pathlib import Path

REVISION = "1" * 40
POSITIONS = 80


def byte_alphabet() -> list[str]:
    """The 256 printable characters byte-level BPE uses for the 256 byte values (GPT-2's table)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = 0
    table = {}
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return [table[byte] for byte in range(256)]


def snapshot_dir(hf_home: Path, repo: str) -> Path:
    """Create (if needed) and return the snapshot folder of ``repo`` in ``hf_home``'s hub cache."""
    repo_dir = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / REVISION
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(REVISION)
    return snapshot


def write_bpe_tokenizer(folder: Path) -> int:
    """A byte-level BPE tokenizer with special tokens and no merges; returns its vocabulary size."""
    vocab = {token: index for index, token in enumerate(["<s>", "<pad>", "</s>", "<unk>"])}
    for character in byte_alphabet():
        vocab.setdefault(character, len(vocab))
    vocab["<mask>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 512}))
    return len(vocab)


def write_wordpiece_tokenizer(folder: Path) -> None:
    """A lower-case wordpiece vocabulary of the special tokens and the 26 letters."""
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *map(chr, range(ord("a"), ord("z") + 1))]
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 512, "do_lower_case": True}))


def build_hf_standins(hf_home: Path) -> Path:
    """Write all stand-ins under ``hf_home``; returns the ``roberta-base`` snapshot folder."""
    import torch
    from transformers import RobertaConfig, RobertaModel

    roberta = snapshot_dir(hf_home, "roberta-base")
    vocab_size = write_bpe_tokenizer(roberta)
    write_bpe_tokenizer(snapshot_dir(hf_home, "facebook/bart-base"))
    write_wordpiece_tokenizer(snapshot_dir(hf_home, "bert-base-uncased"))
    config = RobertaConfig(
        vocab_size=vocab_size,
        hidden_size=768,
        num_hidden_layers=1,
        num_attention_heads=12,
        intermediate_size=128,
        max_position_embeddings=POSITIONS,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(1234)
    RobertaModel(config).save_pretrained(roberta)
    torch.random.set_rng_state(generator_state)
    return roberta
