"""LIPE Desktop: the PySide6 photo album over the Qt-free engine in ``lipe_engine``.

Layout (views never compute anything; they call the engine through :mod:`lipe_desktop.bridge`):

- ``app``: entry point (``lipe-desktop``, ``lipe-desktop --smoke``), logging, error hook.
- ``context``: the open library, the settings and the shared model holder.
- ``workers``: long engine work on a QThread; progress callbacks become Qt signals.
- ``album/``: folder tree, virtualized thumbnail grid, viewer, search.
- ``edit/``: the edit canvas (compare slider, side by side, mask overlays) and its window.
- ``identities``, ``training``: identities panel and training queue.
- ``settings_dialog``: model locations, device, precision, memory mode.
"""

from .qtfix import immortalize_none

immortalize_none()  # first, before any Qt call can leak references to None (see qtfix)
