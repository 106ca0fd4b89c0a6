"""Is the torch in this interpreter the one an installer wants?  Prints ok, other or missing.

    python torch_state.py SPEC MODE      e.g.  torch==2.13.0 cpu
    python torch_state.py --describe     e.g.  2.13.0+cpu (cpu build)

ok: installed, satisfies SPEC and is the wanted build; other: the wrong build (CPU vs CUDA), to be
replaced; missing: not installed or not satisfying SPEC. Reads package metadata only (never imports
torch, so it is fast and works on a broken install). Shared by the Linux, macOS and Windows installers.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, requires, version

from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.version import Version


def _is_cuda(have: Version) -> bool:
    # "+cu128" builds say so; PyPI's plain Linux/Windows-CUDA build depends on nvidia-* wheels.
    local = str(have.local or "")
    return local.startswith("cu") or (not local and any(r.startswith("nvidia-") for r in requires("torch") or []))


def describe() -> str:
    """The installed torch for the installers' last line, without the seconds an import takes."""
    try:
        have = Version(version("torch"))
    except PackageNotFoundError:
        return "(not installed)"
    return f"{have} ({'cuda' if _is_cuda(have) else 'cpu'} build)"


def state(spec: str, mode: str) -> str:
    try:
        have = Version(version("torch"))
    except PackageNotFoundError:
        return "missing"
    is_cuda = _is_cuda(have)
    if (mode == "cuda") != is_cuda:
        return "other"
    return "ok" if Requirement(spec).specifier.contains(have, prereleases=True) else "missing"


if __name__ == "__main__":
    print(describe() if sys.argv[1:] == ["--describe"] else state(sys.argv[1], sys.argv[2]))
