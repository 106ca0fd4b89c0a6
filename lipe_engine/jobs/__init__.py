"""Jobs in the library database (identity priors, edits of an identity's photos), run one after
another (or one per GPU).

::

    from lipe_engine.jobs import enqueue, run_queue, cancel_job, retry, execute_job
    job = enqueue(lib, "Rex", preset="16gb", overrides={"max_steps": 800}, class_images=70)
    run_queue(lib, progress=cb, cancel=token, on_job=print)   # drains the queue, failures recorded
    cancel_job(lib, job.id)          # from any process; a running job stops at its next step
    retry(lib, job.id)               # same output folder: resumes from the checkpoint (pressed twice: one job)

    from lipe_engine.jobs.gpus import visible_gpus, plan_workers, run_workers
    run_workers(plan_workers(visible_gpus(), lib.data_dir))   # one worker process per GPU

Each job: caption missing captions (LLaVA, if configured) -> regularization prompts (cached per class)
-> class images (cached per class and model) -> LoRA training (resumable) -> LoRA recorded in the
library. See ``pipeline`` for the job config and ``queue`` for states and recovery; edit jobs
(``enqueue_edit``, configured by ``lipe_engine.editing.job``) wait for their identity's queued training.
"""

from __future__ import annotations

from .pipeline import DEFAULT_CLASS_IMAGES, job_config, reference_items, run_pipeline
from .queue import KIND, cancel_job, claim_stale, enqueue, enqueue_edit, execute_job, retry, run_queue

__all__ = [
    "DEFAULT_CLASS_IMAGES", "KIND", "cancel_job", "claim_stale", "enqueue", "enqueue_edit", "execute_job",
    "job_config", "reference_items", "retry", "run_pipeline", "run_queue",
]
