"""SDXL models: finding, loading and exporting them, and the pieces every method shares.

- Where models come from: :mod:`.discovery` (what is already on disk: SDXL, LoRAs, GGUF, CLIP, DINOv2;
  headers only), :mod:`.gguf` (GGUF metadata), :mod:`.loader` (``load_sdxl`` / ``load_lora`` ->
  :class:`~.loader.LoadedModel`: a diffusers folder, a single-file checkpoint or the Hugging Face
  cache, never a download), :mod:`.single_file` (export as one original-layout checkpoint),
  :mod:`.edit_defaults` (``lipe_edit_defaults.json`` a model folder may carry).
- What the edit methods and the trainer share: :mod:`.attention` (the one instrumented attention
  processor, which NIMA and MasaCtrl plug into as controllers), :mod:`.vae` (latents across the fp32
  VAE's dtype boundary), :mod:`.prompts` (SDXL prompt encoding).
- Models built in code: :mod:`.tiny` (a tiny SDXL for tests and CPU demos), :mod:`.sdxl_architecture`
  (SDXL base's real architecture with random weights, for benchmarks), :mod:`.tokenizer_files`.

CLIP and DINOv2 as image encoders (metrics, similar photos) are :mod:`lipe_engine.encoders`.
Imports: torch at module top; diffusers is deferred in one place for the whole engine,
``loader.import_diffusers()``, because nima, baselines, training and the desktop import ``LoadedModel`` long before a model loads; the
builders (tiny, sdxl_architecture, single_file) import what they build with at the top.
"""
