"""The hostile run's parts (``scripts/hostile_run.py`` runs them): one module per idea.

``sandbox`` a case's sandbox and steps; ``files`` hostile photo files; ``library_cases`` damaged databases,
the user's folders, interrupted work; ``cli_cases`` command-line abuse; ``judging`` running and judging.
"""

from __future__ import annotations

from .cli_cases import BAD_VALUES, _cli_case, _closed_stdout_case
from .files import HOSTILE_FILES, _file_case
from .library_cases import (
    _concurrent_case,
    _db_case,
    _folder_replaced_case,
    _kill_case,
    _locked_case,
    _missing_library_case,
    _output_case,
)
from .sandbox import Case


def build_cases() -> list[Case]:
    cases: list[Case] = []
    for name, make in HOSTILE_FILES.items():
        cases.append(_file_case(name, make, "scan"))
        cases.append(_file_case(name, make, "link_and_export"))
    for name in ("truncated.jpg", "bomb.png", "text.jpg", "orient_text.jpg", "transparent.png", "empty.jpg"):
        cases.append(_file_case(name, HOSTILE_FILES[name], "replace_reference"))
    for kind in ("truncated", "garbage", "zero", "deleted", "damaged_page", "newer_schema", "odd_values",
                 "wrong_types"):
        cases.append(_db_case(kind, quick=kind == "odd_values"))
    cases.append(_locked_case())
    cases.append(_missing_library_case())
    quick_cli = {"edit out onto original", "non-UTF-8 folder: add"}
    cases += [_cli_case(n, a, n in quick_cli) for n, a in BAD_VALUES]
    cases += [_closed_stdout_case(a) for a in (["library", "list"], ["library", "list", "--json"], ["identity", "list"],
                                               ["library", "issues"], ["--help"])]
    for kind in ("export twice with user files", "export into a non-empty folder", "export over a library folder",
                 "export twice", "demo into a library folder", "eval over a user's results"):
        cases.append(_output_case(kind, quick=kind in ("export twice with user files", "demo into a library folder")))
    cases += [_kill_case(s) for s in range(6)]
    cases.append(_concurrent_case())
    cases.append(_folder_replaced_case())
    return cases
