"""Regularization prompts for a subject's class (LIPE 2.1, Appendix D.1.2), cached per class word.

::

    from lipe_engine.prompts import regularization_prompts, template_prompts, parse_prompts
    prompts = regularization_prompts("dog", 200, llm_path="~/models/instruct.gguf" or None,
                                     cache_dir=data_dir / "regularization", progress=cb, cancel=token)

With an instruction LLM (GGUF) the prompts are the model's, parsed defensively; whatever it does not
deliver is filled from the deterministic templates (style x action x view x setting x quality), so
the count is always met. Without one, templates only. ``<cache_dir>/<class>/prompts.json`` keeps
them: every identity of the same class reuses the list (asking for more extends it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import InputError
from ..progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter
from .llama import check_gguf
from .llm import generate_llm_prompts
from .parse import parse_prompts
from .templates import check_class_word, template_prompts

__all__ = ["check_class_word", "class_cache_dir", "parse_prompts", "regularization_prompts", "template_prompts"]


def class_cache_dir(cache_dir: str | os.PathLike[str], class_word: str) -> Path:
    return Path(cache_dir).expanduser() / check_class_word(class_word).replace(" ", "_")


def _load_cache(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) and isinstance(data.get("prompts"), list) else {}
    except (OSError, json.JSONDecodeError):
        return {}  # a damaged cache is rebuilt, never trusted


def regularization_prompts(
    class_word: str,
    count: int,
    llm_path: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    seed: int = 0,
    rare_token: str | None = None,
    refresh: bool = False,
) -> list[str]:
    """``count`` prompts that each name ``class_word`` (LLM first, templates to fill), cached per class."""
    word = check_class_word(class_word, rare_token)
    if count < 1:
        raise InputError(f"prompt count {count} is not usable", "ask for 1 or more prompts (the paper uses 70 per class)")
    reporter = as_reporter(progress, cancel)
    cache_file = class_cache_dir(cache_dir, word) / "prompts.json" if cache_dir else None
    cached = {} if (refresh or cache_file is None) else _load_cache(cache_file)
    prompts: list[str] = [p for p in cached.get("prompts", []) if isinstance(p, str)]
    sources: dict[str, int] = dict(cached.get("sources", {}))
    if len(prompts) >= count:
        return prompts[:count]
    if llm_path is not None:
        path = check_gguf(llm_path, "prompt")
        exclude = (rare_token,) if rare_token else ()
        new = generate_llm_prompts(path, word, count - len(prompts), reporter, seed=seed, exclude=exclude)
        have = {p.lower() for p in prompts}
        new = [p for p in new if p.lower() not in have]
        prompts += new
        sources["llm"] = sources.get("llm", 0) + len(new)
    template_next = int(cached.get("template_next", 0))
    have = {p.lower() for p in prompts}
    while len(prompts) < count:
        candidate = template_prompts(word, 1, start=template_next)[0]
        template_next += 1
        if candidate.lower() not in have:
            have.add(candidate.lower())
            prompts.append(candidate)
            sources["template"] = sources.get("template", 0) + 1
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"class_word": word, "prompts": prompts, "sources": sources,
                                   "template_next": template_next,
                                   "llm": str(llm_path) if llm_path else None}, indent=1), encoding="utf-8")
        os.replace(tmp, cache_file)
    return prompts[:count]
