"""Write a small but real CLIP BPE tokenizer (vocab.json + merges.txt) for a chosen word list.

Real SDXL ships a 49,408-token vocabulary we cannot download here. Tests and the toy-world model
use this generator instead: the files have exactly the format of the real ones and are read by the
same ``CLIPTokenizer`` class, so the loading path is the real one. Every listed word becomes a
single token (its merges are written in order), any other text still tokenizes into byte-level
pieces, like with the real vocabulary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"

# Words every prompt in the tests, the toy world and the CLI examples uses.
DEFAULT_WORDS = ["a", "an", "the", "of", "in", "on", "at", "with", "and", "photo", "picture", "sks", "dog", "cat", "bird", "robot", "toy", "person", "sitting", "standing", "running", "jumping", "lying", "facing", "left", "right", "camera", "up", "arms", "looking", "smiling", "front", "back", "side", "view", "red", "green", "blue", "yellow", "white", "black", "brown", "grass", "sand", "wall", "floor", "room", "park", "beach", "background"]


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable-unicode table (the standard construction)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def build_vocab(words: Iterable[str]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Return (vocab, merges) in which every word is one token."""
    byte_chars = list(_bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for ch in byte_chars:
        vocab.setdefault(ch, len(vocab))
    for ch in byte_chars:
        vocab.setdefault(ch + "</w>", len(vocab))
    merges: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for word in dict.fromkeys(w.lower() for w in words if w.strip()):
        encoded = "".join(_bytes_to_unicode()[b] for b in word.encode("utf-8"))
        symbols = list(encoded[:-1]) + [encoded[-1] + "</w>"]
        current = symbols[0]
        for nxt in symbols[1:]:
            pair = (current, nxt)
            current = current + nxt
            if pair not in seen:
                seen.add(pair)
                merges.append(pair)
                vocab.setdefault(current, len(vocab))
    vocab[BOS] = len(vocab)
    vocab[EOS] = len(vocab)
    return vocab, merges


def write_clip_tokenizer(
    folder: str | Path, words: Iterable[str] = DEFAULT_WORDS, pad_token: str = EOS, max_length: int = 77
) -> int:
    """Write a CLIP tokenizer folder; returns the vocabulary size a text encoder must have.

    ``pad_token`` is ``<|endoftext|>`` for SDXL's first tokenizer and ``!`` for its second, as in
    the real checkpoints.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = build_vocab(words)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2"] + [f"{a} {b}" for a, b in merges]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": max_length,
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": EOS,
        "pad_token": pad_token,
        "do_lower_case": True,
        "clean_up_tokenization_spaces": False,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    specials = {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": pad_token}
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2), encoding="utf-8")
    return len(vocab)
