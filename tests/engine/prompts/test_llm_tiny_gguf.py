"""A tiny llama-architecture GGUF (random weights, small SentencePiece-style vocabulary) built here.

Other LLM tests import :func:`build_tiny_llama_gguf`; this file checks that the real llama-cpp-python
loads it and generates through the chat API, so the prompt and caption paths run the real backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
    import gguf

    rng = np.random.default_rng(seed)
    tokens, scores, types = ["<unk>", "<s>", "</s>"], [0.0, 0.0, 0.0], [2, 3, 3]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        scores.append(0.0)
        types.append(6)  # byte fallback
    for i, w in enumerate(dict.fromkeys(WORDS + [".", ",", "\n"])):
        tokens.append("\u2581" + w if w.isalpha() else w)
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


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory) -> Path:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed")
    return build_tiny_llama_gguf(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")


def test_tiny_gguf_loads_and_chats_in_llama_cpp(tiny_gguf):
    from lipe_engine.prompts.llama import open_llama

    with open_llama(tiny_gguf, n_ctx=256, n_gpu_layers=0) as llm:
        assert llm.n_vocab() > 256
        reply = llm.create_chat_completion(messages=[{"role": "user", "content": "a dog"}], max_tokens=12, seed=1)
        text = reply["choices"][0]["message"]["content"]
        assert isinstance(text, str) and reply["usage"]["completion_tokens"] > 0
    # closed: the context is freed
    assert getattr(llm, "_ctx", None) is None or getattr(llm._ctx, "ctx", None) is None
