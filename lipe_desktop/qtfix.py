"""Keep a PySide6 reference-count bug from aborting the app on Python 3.11.

With the PySide6 6.12 wheels (stable ABI) on Python < 3.12, every Qt call that returns ``None``
(``QModelIndex.data()`` of an empty role, ``currentItem()`` with none, ``parent()`` of a top-level
widget...) drops a reference to ``None`` it never took: the bindings assume ``None`` is immortal,
which it is only from Python 3.12 (PEP 683). One call is harmless; a grid painting thousands of tiles
brings ``None``'s count to zero within minutes and the interpreter aborts with "none_dealloc:
deallocating None" (``tests/desktop/album/test_gui_album.py`` checks it cannot). Giving ``None`` a huge reference
count does what Python 3.12 does: no realistic number of such calls can reach zero.
"""

from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 48  # 2.8e14 leaked references before trouble: centuries of painting


def immortalize_none() -> None:
    """Raise ``None``'s reference count far out of reach (no-op from Python 3.12, where it is immortal)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    refcnt = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt is the first field of every object
    if refcnt.value < _HEADROOM:
        refcnt.value += _HEADROOM
