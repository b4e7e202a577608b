"""The write log (table ``writes``): an entry appended by every write, in that write's transaction, and
the reads behind ``findings log`` and "added by" on a node's page.

The per-row write methods of the other mixins call :meth:`WriteLog.log_write` themselves, so no write path
can forget its entry; bulk writes log one entry per call (a million edges are one ``bulk.load``).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from db import models as m
from db import records as r
from db.queries.base import TxBase, chunks

# who "added" a node: the entry that created it
ADD_ACTIONS = ("node.add",)


class WriteLog(TxBase):
    def log_write(self, action: str, subject: str, node_id: str | None = None,
                  details: dict[str, Any] | None = None) -> None:
        """Append one entry (the transaction's user, now) for a write made in this transaction."""
        self.s.add(m.Write(at=m.utcnow(), author=self.user, action=action, subject=subject, node_id=node_id,
                           details=details or {}))

    def writes(self, since: datetime | None = None, user: str | None = None, node_id: str | None = None,
               limit: int = 100) -> list[r.Write]:
        """The latest ``limit`` entries, newest first, at or after ``since``, by ``user``, about ``node_id``."""
        q = select(m.Write.id, m.Write.at, m.Write.author, m.Write.action, m.Write.subject, m.Write.node_id,
                   m.Write.details)
        if since is not None:
            q = q.where(m.Write.at >= since)
        if user is not None:
            q = q.where(m.Write.author == user)
        if node_id is not None:
            q = q.where(m.Write.node_id == node_id)
        rows = self._rows(q.order_by(m.Write.id.desc()).limit(limit)).all()
        return [r.Write(i, at, who, action, subject, node, dict(details or {}))
                for i, at, who, action, subject, node, details in rows]

    def added(self, node_ids: Iterable[str]) -> dict[str, tuple[str | None, datetime]]:
        """For each of ``node_ids`` that has one, (user, time) of the entry that added it."""
        out: dict[str, tuple[str | None, datetime]] = {}
        for chunk in chunks(sorted(set(node_ids))):
            q = (select(m.Write.subject, m.Write.author, m.Write.at)
                 .where(m.Write.subject.in_(chunk), m.Write.action.in_(ADD_ACTIONS)).order_by(m.Write.id))
            for subject, who, at in self._rows(q).all():
                out.setdefault(subject, (who, at))
        return out
