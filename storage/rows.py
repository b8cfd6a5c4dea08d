"""Small helpers the repositories share for the statement shapes they all use."""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite


async def returning_one(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> sqlite3.Row:
    """Run a statement with `RETURNING *` that affects exactly one row, and return that row."""
    async with conn.execute(sql, params) as cur:
        row = await cur.fetchone()
    if row is None:
        raise sqlite3.IntegrityError(f"expected a row back from: {sql[:60]}…")
    return row


async def changed_rows(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> int:
    """Run an UPDATE or DELETE and return how many rows it changed."""
    async with conn.execute(sql, params) as cur:
        return cur.rowcount


def as_dict(row: sqlite3.Row) -> dict[str, Any]:
    return {key: row[key] for key in row.keys()}
