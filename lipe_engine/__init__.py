"""LIPE engine: everything that computes (models, library, captioning, training, NIMA editing).

Nothing in this package imports Qt; the desktop app (``lipe_desktop``) and the ``lipe`` CLI are
both thin clients of it.
"""

__version__ = "0.1.0"
