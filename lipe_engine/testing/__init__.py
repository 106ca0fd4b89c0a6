"""Builders the tests and the benchmarks share (no Qt, no real photos or weights needed).

* :mod:`.libraries`: generated photo folders and libraries, up to 10,000-photo ones.
* :mod:`.nima_reference`: the literal three-pass NIMA of Algorithm 1, the engine's reference.
* The tiny SDXL-architecture model is :func:`lipe_engine.models.tiny.build_tiny_sdxl`.
"""
