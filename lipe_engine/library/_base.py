"""Shared plumbing for the library's record-access mixins (one connection, short transactions)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from .db import LibraryError, write_transaction


def to_json(value: Any, what: str) -> str:
    """``value`` as JSON for a column, or a one-line error naming ``what`` it is."""
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise LibraryError(
            f"{what} is not JSON-serialisable ({exc})", "pass plain dicts, lists, str and numbers"
        ) from exc


def now_iso() -> str:
    """UTC, millisecond precision: the same format as the schema's ``strftime('%Y-%m-%dT%H:%M:%fZ')``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class LibraryBase:
    """Holds the connection; subclasses (mixins) add record access for one table family each."""

    db: sqlite_utils.Database
    data_dir: Path

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing write (``BEGIN IMMEDIATE``); nest freely, keep it short."""
        with write_transaction(self.conn) as conn:
            yield conn
        if not self.conn.in_transaction:
            self._after_commit()

    def _after_commit(self) -> None:
        """Called after each outermost committed write (the library checks whether a backup is due)."""

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        with _named_errors(params):
            return self.conn.execute(sql, tuple(params)).fetchone()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with _named_errors(params):
            return self.conn.execute(sql, tuple(params)).fetchall()


@contextlib.contextmanager
def _named_errors(params: Sequence[Any]) -> Iterator[None]:
    """A query's parameter SQLite cannot take (a too large number, text that is not UTF-8) named in
    one line instead of a traceback."""
    try:
        yield
    except OverflowError as exc:
        raise _too_large(params) from exc
    except UnicodeEncodeError as exc:
        raise _not_text(params) from exc


def _too_large(params: Sequence[Any]) -> LibraryError:
    """An id or count beyond SQLite's 64-bit integers (``lipe queue show 99999999999999999999``)."""
    big = next((p for p in params if isinstance(p, int) and not -(2**63) <= p < 2**63), None)
    return LibraryError(f"number {big} is out of range" if big is not None else "a number is out of range",
                        "ids and counts are whole numbers below 2**63 (see `lipe ... list`)")


def _not_text(params: Sequence[Any]) -> LibraryError:
    """A name or path holding bytes that are not UTF-8 (surrogate escapes): the database stores UTF-8."""
    bad = next((p for p in params if isinstance(p, str) and not _encodes(p)), "")
    return LibraryError(f"'{bad}' is not valid UTF-8 text", "rename it to a UTF-8 name")


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
