"""Regularization prompts from a local instruction LLM (GGUF via llama-cpp-python).

Paper Appendix D.1.2 asks GPT-4 for many realistic, single-subject prompts that each contain the
keyword and describe style, subject, action, background and quality. We ask a local model the same
in our own words, in rounds of ``PER_ROUND``, alternating two phrasings, and keep what
:func:`parse_prompts` accepts. A fresh conversation is used for every round.
"""

from __future__ import annotations

from pathlib import Path

from ..progress import ProgressReporter
from .llama import open_llama
from .parse import parse_prompts

PER_ROUND = 20
SYSTEM = "You write prompts for a photorealistic text-to-image model. Answer with a numbered list only."
REQUESTS = (
    "Write {n} different, detailed image prompts about the keyword '{word}'. Each prompt is one sentence "
    "that names the photo style, the subject, what the subject is doing (a clear pose or action), the "
    "viewpoint, the background and the image quality. Every prompt must literally contain the word "
    "'{word}' (a breed or synonym alone is not enough). Exactly one subject per prompt, and only "
    "situations that could really be photographed.",
    "Give me {n} varied prompts for realistic photos of a single {word}. Vary the action or pose (running, "
    "sitting, turning, jumping, lying down...), the camera angle and the setting, and end each with a few "
    "quality words. Example: \"Urban photo of a {word} mid-jump over a puddle, side view, rainy street, high "
    "shutter speed.\" Each prompt must contain the word '{word}'; never two subjects; nothing impossible.",
)


def generate_llm_prompts(model_path: Path, class_word: str, count: int, reporter: ProgressReporter,
                         seed: int = 0, max_rounds: int | None = None, exclude: tuple[str, ...] = (),
                         max_tokens: int = 1200) -> list[str]:
    """Up to ``count`` unique parsed prompts (fewer if the model keeps failing); closes the model."""
    rounds = max_rounds or max(2, 2 * -(-count // PER_ROUND))
    found: list[str] = []
    seen: set[str] = set()
    reporter.start(f"prompts for '{class_word}' (LLM)", rounds)
    with open_llama(model_path, n_ctx=4096, seed=seed, what="prompt") as llm:
        for r in range(rounds):
            n = min(PER_ROUND, count - len(found))
            request = REQUESTS[r % len(REQUESTS)].format(n=n, word=class_word)
            reply = llm.create_chat_completion(
                messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": request}],
                temperature=0.9, top_p=0.95, max_tokens=max_tokens, seed=seed + r,
            )
            text = reply["choices"][0]["message"].get("content") or ""
            for prompt in parse_prompts(text, class_word, exclude):
                key = prompt.lower()
                if key not in seen:
                    seen.add(key)
                    found.append(prompt)
            reporter.step(prompts=len(found))
            if len(found) >= count:
                break
    return found[:count]
