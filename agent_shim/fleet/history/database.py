"""The history's SQLite file: its tables, the migrations that bring an older file up to date, and the one
connection every part of the history shares (one lock, re-entrant transactions).

WAL mode with synchronous=NORMAL; every state change is its own committed transaction, so a controller
killed at any point loses nothing it committed (a power loss may drop the last few commits, never more than
happened, and the file stays consistent: FULL's fsync per commit cost 2.5 ms of the controller's CPU per
host, half of its budget at 1,000 hosts). `PRAGMA user_version` is the schema's version: a file made before
versions existed reads 0 and is migrated when it is opened.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from typing import Any, Callable, Iterator, List, Sequence, Tuple

# Version 0: the tables as the first history wrote them. Never edited: a change is a migration below.
SCHEMA_V0 = """
CREATE TABLE IF NOT EXISTS deployments (
    id TEXT PRIMARY KEY,
    application TEXT NOT NULL,
    group_name TEXT NOT NULL,
    revision TEXT NOT NULL,
    revision_checksum TEXT NOT NULL,
    archive TEXT NOT NULL DEFAULT '',
    bundle_type TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    creator TEXT NOT NULL DEFAULT 'user',
    rollback_of TEXT,
    style TEXT NOT NULL DEFAULT 'IN_PLACE',
    message TEXT NOT NULL DEFAULT '',
    batches TEXT NOT NULL DEFAULT '[]',
    details TEXT NOT NULL DEFAULT '{}',
    controller TEXT NOT NULL DEFAULT '{}',
    stop_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS deployments_by_group ON deployments (application, group_name, started);
CREATE TABLE IF NOT EXISTS host_results (
    deployment_id TEXT NOT NULL,
    host TEXT NOT NULL,
    position INTEGER NOT NULL,
    role TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    current_event TEXT NOT NULL DEFAULT '',
    started REAL NOT NULL DEFAULT 0,
    duration REAL NOT NULL DEFAULT 0,
    host_deployment_id TEXT NOT NULL DEFAULT '',
    log_tail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (deployment_id, host)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT NOT NULL,
    host TEXT NOT NULL,
    event TEXT NOT NULL,
    status TEXT NOT NULL,
    started REAL NOT NULL,
    duration REAL NOT NULL,
    error_code INTEGER NOT NULL DEFAULT 0,
    error_name TEXT NOT NULL DEFAULT '',
    script_name TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    log_tail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_by_deployment ON events (deployment_id, host);
CREATE TABLE IF NOT EXISTS groups (
    application TEXT NOT NULL,
    group_name TEXT NOT NULL,
    last_good TEXT,
    live_set TEXT NOT NULL DEFAULT 'blue',
    lock_deployment TEXT,
    lock_controller TEXT,
    lock_since REAL,
    PRIMARY KEY (application, group_name)
);
CREATE TABLE IF NOT EXISTS traffic (
    application TEXT NOT NULL,
    group_name TEXT NOT NULL,
    host TEXT NOT NULL,
    state TEXT NOT NULL,
    deployment_id TEXT NOT NULL DEFAULT '',
    event TEXT NOT NULL DEFAULT '',
    since REAL NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (application, group_name, host)
);
"""

# Version 1: a deployment's details are typed columns, no longer a JSON bag beside `archive` and
# `bundle_type` (the blue/green roles were already each host's `role`). The bag stays, unread, for
# SQLite before 3.35 cannot drop a column.
DETAILS_COLUMNS_V1 = (
    ("origin", "TEXT NOT NULL DEFAULT ''"),
    ("live_before", "TEXT"),
    ("switched", "INTEGER NOT NULL DEFAULT 0"),
    ("kept_until", "REAL"),
)


def _details_from_bag(db: sqlite3.Connection) -> None:
    for name, declaration in DETAILS_COLUMNS_V1:
        db.execute(f"ALTER TABLE deployments ADD COLUMN {name} {declaration}")
    for row in db.execute("SELECT id, details FROM deployments").fetchall():
        bag = json.loads(row["details"] or "{}")
        db.execute(
            "UPDATE deployments SET origin=?, live_before=?, switched=?, kept_until=? WHERE id=?",
            (
                str(bag.get("origin") or ""),
                bag.get("live_before"),
                1 if bag.get("switched") else 0,
                bag.get("kept_until"),
                row["id"],
            ),
        )


MIGRATIONS: Tuple[Callable[[sqlite3.Connection], None], ...] = (
    _details_from_bag,
)  # index i: version i → i+1
SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """The connection, shared by the controller's threads behind one lock. `transaction()` nests: only
    the outermost one begins and commits, so a part's write can join a larger atomic change."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0
        self.connection = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self.connection.row_factory = sqlite3.Row
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA busy_timeout=30000")
        self._migrate()

    def _migrate(self) -> None:
        """Version 0's tables (idempotent), then the missing migrations; a second controller opening the
        same file waits for the first one's transaction and finds it up to date."""
        with self._lock:
            self.connection.executescript(SCHEMA_V0)
        with self.transaction() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            for migrate in MIGRATIONS[version:]:
                migrate(db)
            if version < SCHEMA_VERSION:
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self.connection.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.connection
                finally:
                    self._depth -= 1
                return
            self.connection.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            else:
                self.connection.execute("COMMIT")
            finally:
                self._depth = 0

    def write(self, sql: str, parameters: Sequence[Any] = ()) -> int:
        """One statement, committed on its own unless inside a transaction; the rows it changed."""
        with self._lock:
            return self.connection.execute(sql, parameters).rowcount

    def rows(self, sql: str, parameters: Sequence[Any] = ()) -> List[sqlite3.Row]:
        with self._lock:
            return self.connection.execute(sql, parameters).fetchall()
