"""Tiny GGUF files written in code for tests: a llama text model and LLaVA-style CLIP projectors,
loaded by the real llama-cpp-python code paths (needs the ``gguf`` package, a test dependency)."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

WORDS = [
    "a", "dog", "cat", "photo", "of", "running", "sitting", "on", "the", "in", "park", "beach", "grass", "jumping",
    "lying", "view", "side", "front", "high", "detail", "light", "sharp", "focus", "golden", "hour", "portrait",
    "with", "at", "near", "camera", "looking",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}\n{% endfor %}<|assistant|>\n"
)


def build_tiny_llama_gguf(path: Path, n_embd: int = 32, n_layer: int = 1, n_head: int = 4, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    tokens, scores, types = ["<unk>", "<s>", "</s>"], [0.0, 0.0, 0.0], [2, 3, 3]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        scores.append(0.0)
        types.append(6)  # byte fallback
    for i, word in enumerate(dict.fromkeys(WORDS + [".", ",", "\n"])):
        tokens.append("\u2581" + word if word.isalpha() else word)
        scores.append(-float(i))
        types.append(1)
    n_vocab, n_ff = len(tokens), n_embd * 2
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("lipe-test-tiny")
    w.add_context_length(512)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_vocab_size(n_vocab)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_chat_template(CHAT_TEMPLATE)

    def t(*shape):
        return (rng.standard_normal(shape) * 0.5).astype(np.float32)

    w.add_tensor("token_embd.weight", t(n_vocab, n_embd))
    w.add_tensor("output_norm.weight", np.ones(n_embd, np.float32))
    w.add_tensor("output.weight", t(n_vocab, n_embd))
    for i in range(n_layer):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(f"blk.{i}.{name}.weight", t(n_embd, n_embd))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, np.float32))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", t(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_up.weight", t(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_down.weight", t(n_embd, n_ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def build_fake_mmproj(path: Path, projector: str = "mlp", pinpoints: bool = False) -> Path:
    w = gguf.GGUFWriter(str(path), "clip")
    w.add_bool("clip.has_vision_encoder", True)
    w.add_string("clip.projector_type", projector)
    if pinpoints:
        w.add_array("clip.vision.image_grid_pinpoints", [336, 672, 672, 336])
    w.add_tensor("mm.0.weight", np.zeros((4, 4), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def build_tiny_mmproj(path: Path, n_text: int = 32, n_embd: int = 32, n_ff: int = 64, image: int = 28,
                      patch: int = 14, seed: int = 0) -> Path:
    """A working LLaVA-1.5-style projector GGUF: CLIP vision tower (1 block) + MLP, random weights."""
    rng = np.random.default_rng(seed)

    def t(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    def ones(n: int) -> np.ndarray:
        return np.ones(n, np.float32)

    def zeros(n: int) -> np.ndarray:
        return np.zeros(n, np.float32)

    w = gguf.GGUFWriter(str(path), "clip")
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_llava_projector", True)
    w.add_string("clip.projector_type", "mlp")
    w.add_bool("clip.use_gelu", True)
    for key, value in (("image_size", image), ("patch_size", patch), ("embedding_length", n_embd),
                       ("feed_forward_length", n_ff), ("projection_dim", n_text), ("block_count", 1),
                       ("attention.head_count", 4)):
        w.add_uint32(f"clip.vision.{key}", value)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-5)
    w.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    w.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    w.add_tensor("v.patch_embd.weight", t(n_embd, 3, patch, patch))
    w.add_tensor("v.class_embd", t(n_embd))
    w.add_tensor("v.position_embd.weight", t((image // patch) ** 2 + 1, n_embd))
    w.add_tensor("v.pre_ln.weight", ones(n_embd))
    w.add_tensor("v.pre_ln.bias", zeros(n_embd))
    for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
        w.add_tensor(f"v.blk.0.{name}.weight", t(n_embd, n_embd))
        w.add_tensor(f"v.blk.0.{name}.bias", zeros(n_embd))
    for name in ("ln1", "ln2"):
        w.add_tensor(f"v.blk.0.{name}.weight", ones(n_embd))
        w.add_tensor(f"v.blk.0.{name}.bias", zeros(n_embd))
    w.add_tensor("v.blk.0.ffn_up.weight", t(n_ff, n_embd))
    w.add_tensor("v.blk.0.ffn_up.bias", zeros(n_ff))
    w.add_tensor("v.blk.0.ffn_down.weight", t(n_embd, n_ff))
    w.add_tensor("v.blk.0.ffn_down.bias", zeros(n_embd))
    w.add_tensor("mm.0.weight", t(n_text, n_embd))  # LLaVA's projector: linear, GELU, linear
    w.add_tensor("mm.0.bias", zeros(n_text))
    w.add_tensor("mm.2.weight", t(n_text, n_text))
    w.add_tensor("mm.2.bias", zeros(n_text))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
