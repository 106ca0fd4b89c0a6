"""Job records (training, captioning, editing, embedding...): state, progress, config, log.

The records are the queue's memory; running them is the job runner's business (``lipe_engine.jobs``).
States move ``queued -> running -> done | failed | cancelled``; a finished job is never reopened.
``claim_next_job`` (and ``claim_job``, ``claim_orphan_job``) atomically move a job to running with
its worker's identity, so two worker processes never take the same job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._base import LibraryBase, now_iso, to_json
from .db import LibraryError
from .records import JOB_STATES, Job

_FINISHED = ("done", "failed", "cancelled")
_UNSET: Any = object()
MAX_LOG_CHARS = 200_000  # the log keeps its tail; older lines are dropped


class JobsMixin(LibraryBase):
    def create_job(
        self, kind: str, config: dict[str, Any] | None = None, *, identity: int | None = None
    ) -> Job:
        """A new queued job; ``identity`` is an identity id (or None)."""
        if not kind or not kind.replace("_", "").replace("-", "").isalnum():
            raise LibraryError(
                f"job kind '{kind}' is not usable", "use a short word such as train or caption"
            )
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO jobs(kind, config, identity_id) VALUES (?, ?, ?)",
                (kind, to_json(config or {}, "job config"), identity),
            )
        return self.get_job(int(cur.lastrowid or 0))

    def get_job(self, job_id: int) -> Job:
        row = self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise LibraryError(f"job {job_id} does not exist", "list jobs with `lipe queue list`")
        return Job.from_row(row)

    def list_jobs(
        self,
        kind: str | None = None,
        states: tuple[str, ...] | list[str] | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Newest first."""
        sql = "SELECT * FROM jobs WHERE 1=1"
        params: list[object] = []
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        if states:
            bad = [s for s in states if s not in JOB_STATES]
            if bad:
                raise LibraryError(f"job state '{bad[0]}' is unknown", f"use one of {', '.join(JOB_STATES)}")
            sql += f" AND state IN ({', '.join('?' * len(states))})"
            params += list(states)
        sql += " ORDER BY id DESC"
        if limit is not None and (isinstance(limit, bool) or not 0 <= int(limit) <= 2**62):
            raise LibraryError(f"job limit {limit} is not usable", "give 0 or more (or no limit)")
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [Job.from_row(r) for r in self._all(sql, params)]

    def update_job(
        self,
        job_id: int,
        *,
        state: str | None = None,
        progress: float | None = None,
        message: str | None = None,
        result: Any = _UNSET,
        log: str | None = None,
    ) -> Job:
        """Change a job in one transaction; ``log`` text is appended (with a newline)."""
        if state is not None and state not in JOB_STATES:
            raise LibraryError(f"job state '{state}' is unknown", f"use one of {', '.join(JOB_STATES)}")
        if progress is not None and not 0.0 <= float(progress) <= 1.0:
            raise LibraryError(f"job progress {progress} is outside 0..1", "pass a fraction between 0 and 1")
        now = now_iso()
        with self.transaction() as c:
            row = c.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise LibraryError(f"job {job_id} does not exist", "list jobs with `lipe queue list`")
            sets: dict[str, Any] = {"updated_at": now}
            if state is not None and state != row["state"]:
                if row["state"] in _FINISHED:
                    raise LibraryError(
                        f"job {job_id} is already {row['state']}", "create a new job to run it again"
                    )
                sets["state"] = state
                if state == "running" and row["started_at"] is None:
                    sets["started_at"] = now
                if state in _FINISHED:
                    sets["finished_at"] = now
                    if state == "done" and progress is None:
                        sets["progress"] = 1.0
            if progress is not None:
                sets["progress"] = float(progress)
            if message is not None:
                sets["message"] = message
            if result is not _UNSET:
                sets["result"] = to_json(result, "job result")
            if log:
                text = row["log"] + (log if log.endswith("\n") else log + "\n")
                sets["log"] = text[-MAX_LOG_CHARS:]
            cols = ", ".join(f"{k} = ?" for k in sets)
            c.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*sets.values(), job_id))
        return self.get_job(job_id)

    def append_job_log(self, job_id: int, text: str) -> None:
        self.update_job(job_id, log=text)

    # --- claiming: who runs a job is written in the same transaction that takes it ------------------

    def claim_next_job(self, kind: str | None = None, *, worker: dict[str, Any] | None = None,
                       order: Sequence[int] = ()) -> Job | None:
        """Atomically take the first queued job (of ``kind``) and mark it running; None if none.

        ``order``: job ids in the user's order, taken before the others (oldest first). ``worker``
        (pid, host...) is recorded as the job's result at once, so no other runner can mistake a
        just-claimed job for an orphan.
        """
        with self.transaction() as c:
            sql, params = "SELECT id FROM jobs WHERE state = 'queued'", []
            if kind is not None:
                sql += " AND kind = ?"
                params.append(kind)
            queued = [int(r[0]) for r in c.execute(sql + " ORDER BY id", params).fetchall()]
            if not queued:
                return None
            rank = {job_id: i for i, job_id in enumerate(order)}
            job_id = min(queued, key=lambda j: (rank.get(j, len(rank)), j))
            self._mark_claimed(c, job_id, worker)
        return self.get_job(job_id)

    def claim_job(self, job_id: int, *, worker: dict[str, Any] | None = None) -> Job | None:
        """Take job ``job_id`` if it is still queued (None when another runner has it or it ended)."""
        with self.transaction() as c:
            row = c.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise LibraryError(f"job {job_id} does not exist", "list jobs with `lipe queue list`")
            if row["state"] != "queued":
                return None
            self._mark_claimed(c, job_id, worker)
        return self.get_job(job_id)

    def claim_orphan_job(self, kind: str, is_orphan: Callable[[Job], bool],
                         worker: dict[str, Any] | None = None) -> Job | None:
        """Take over the first ``running`` job whose runner is gone (``is_orphan``), recording ``worker``."""
        with self.transaction() as c:
            rows = c.execute("SELECT * FROM jobs WHERE kind = ? AND state = 'running' ORDER BY id",
                             (kind,)).fetchall()
            for row in rows:
                job = Job.from_row(row)
                if is_orphan(job):
                    c.execute("UPDATE jobs SET result = ?, updated_at = ? WHERE id = ?",
                              (to_json({"worker": worker}, "job result"), now_iso(), job.id))
                    return self.get_job(job.id)
        return None

    @staticmethod
    def _mark_claimed(c: Any, job_id: int, worker: dict[str, Any] | None) -> None:
        now = now_iso()
        result = to_json({"worker": worker}, "job result") if worker is not None else None
        c.execute("UPDATE jobs SET state = 'running', started_at = COALESCE(started_at, ?), updated_at = ?, "
                  "result = COALESCE(?, result) WHERE id = ?", (now, now, result, job_id))

    def delete_job(self, job_id: int) -> None:
        job = self.get_job(job_id)
        if job.state == "running":
            raise LibraryError(f"job {job_id} is running", "cancel it first")
        with self.transaction() as c:
            c.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
