"""Edit by identity: the library plans the edit, jobs run it, every result is a replayable version.

::

    from lipe_engine.editing import plan_edit                  # no torch import: the GUI plans freely
    from lipe_engine.editing.run import Models, run_plan, save_version, redo_version
    plan = plan_edit(lib, photo, "Rex", ["sitting", "facing left"])   # prompts, prior, model, settings
    result, model = run_plan(plan, Models(), progress=cb, cancel=token)
    edit = save_version(lib, plan, model, result, 0)   # honest file + recipe under <data>/edits/
    again, identical = redo_version(lib, edit.id)

``plan`` decides (one place for desktop, CLI and jobs), ``recipe`` records, ``provenance`` writes the
honest file, ``run`` runs and saves, ``job`` is the queue's edit kind.
"""

from __future__ import annotations

from .plan import EditPlan, photo_in_library, plan_edit

__all__ = ["EditPlan", "photo_in_library", "plan_edit"]
