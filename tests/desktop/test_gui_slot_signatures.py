"""Every ``clicked``/``triggered``/``toggled`` connection's slot accepts what Qt passes.

Qt hands such a slot the button's ``checked`` flag: a method whose first parameter means something
else (``save_version(indexes=None)``) gets a bool there ("'bool' object is not iterable" on every
click). This reads the desktop's source, finds each connection (and each menu action made with
``MainWindow._action``), and checks the slot's first parameter: none, ``*args``, a name starting
with ``_`` (ignored on purpose), or one annotated ``bool``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIGNALS = {"clicked", "triggered", "toggled"}


def _first_param_ok(args: ast.arguments, *, is_method: bool) -> bool:
    params = list(args.posonlyargs) + list(args.args)
    if is_method and params:
        params = params[1:]  # self
    if not params:
        return True
    first = params[0]
    if first.arg.startswith("_") or first.arg in ("checked", "on"):
        return True
    return first.annotation is not None and "bool" in ast.unparse(first.annotation)


def bad_connections(sources: dict[str, str]) -> list[str]:
    """``file:line slot`` for each connection whose slot would take the checked flag as something else."""
    trees = {name: ast.parse(text) for name, text in sources.items()}
    defs: dict[str, list[ast.FunctionDef]] = {}  # method name -> every def of it
    methods: dict[str, dict[str, list[ast.FunctionDef]]] = {}  # class -> its methods
    for tree in trees.values():
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for node in cls.body:
                if isinstance(node, ast.FunctionDef):
                    defs.setdefault(node.name, []).append(node)
                    methods.setdefault(cls.name, {}).setdefault(node.name, []).append(node)

    def own(tree: ast.Module, attr: str) -> list[ast.FunctionDef]:
        """``self.attr``: the method of a class in this file or of its bases in the package (a mixin);
        none: Qt's own (close, accept...)."""
        found: list[ast.FunctionDef] = []
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for name in [cls.name, *(ast.unparse(b) for b in cls.bases)]:
                found += methods.get(name, {}).get(attr, [])
        return found
    problems = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            f = node.func
            slot = None
            if f.attr == "connect" and isinstance(f.value, ast.Attribute) and f.value.attr in SIGNALS and node.args:
                slot = node.args[0]
            elif f.attr == "_action" and len(node.args) >= 3:  # MainWindow._action(menu, text, slot, key)
                slot = node.args[2]
            if slot is None:
                continue
            where = f"{name}:{node.lineno} {ast.unparse(slot)[:60]}"
            if isinstance(slot, ast.Lambda):
                if not _first_param_ok(slot.args, is_method=False):
                    problems.append(where)
            elif isinstance(slot, ast.Attribute) and isinstance(slot.value, (ast.Name, ast.Attribute)):
                on_self = isinstance(slot.value, ast.Name) and slot.value.id == "self"
                # another object's method (self.runner.stop): every method of that name must fit
                for d in own(tree, slot.attr) if on_self else defs.get(slot.attr, []):
                    if not _first_param_ok(d.args, is_method=True):
                        problems.append(where)
                        break
    return problems


def test_the_checker_finds_the_save_bug() -> None:
    buggy = (
        "class W:\n"
        "    def __init__(self):\n"
        "        self.save_btn.clicked.connect(self.save_version)\n"
        "        self.other.clicked.connect(lambda t='x': self.use(t))\n"
        "        self.fine.clicked.connect(lambda _c=False, t='x': self.use(t))\n"
        "        self.menu_item.triggered.connect(self.toggle)\n"
        "    def save_version(self, indexes: list[int] | None = None): ...\n"
        "    def toggle(self, on: bool): ...\n"
    )
    found = bad_connections({"w.py": buggy})
    assert [p.split(" ", 1)[0] for p in found] == ["w.py:3", "w.py:4"], found


def test_every_desktop_connection_takes_what_qt_passes() -> None:
    sources = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
               for p in sorted((ROOT / "lipe_desktop").rglob("*.py"))}
    assert len(sources) > 30  # the whole package was read
    assert bad_connections(sources) == []
