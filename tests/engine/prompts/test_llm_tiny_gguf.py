"""A tiny llama-architecture GGUF (random weights, small SentencePiece-style vocabulary) built here.

Other LLM tests import :func:`build_tiny_llama_gguf`; this file checks that the real llama-cpp-python
loads it and generates through the chat API, so the prompt and caption paths run the real backend.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lipe_engine.testing.gguf_models import build_tiny_llama_gguf


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
