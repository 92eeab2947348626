"""How many rows one Dataverse bulk request carries (CreateMultiple, UpsertMultiple), table by table.

Microsoft gives no fixed count: "With standard tables, there's a performance incentive to send more
records with each request. However, the number of records you can send is limited by the size of the
payload and the amount of time required to process the operation" ("Use bulk operation messages",
Limitations, https://learn.microsoft.com/power-apps/developer/data-platform/bulk-operations); about 1,000
is its suggested start (protocols.md A11), and its Python SDK sends a whole write in one request. What a
request of a table costs depends on the table and the org (plug-ins, indexes), so it is measured:

- a table's requests start at the caller's batch size and grow while the table answers fast: the next
  requests carry as many rows as the last ones' pace (seconds per row, from the time to the answer's
  headers: ``requests``' ``Response.elapsed``, which leaves out retries and waits) says fit in
  ``TARGET_SECONDS``; never fewer than the start (a slow table keeps the suggested size: a request may
  take up to Dataverse's 2 minutes), never more than ``most`` (a write's window of rows shared among the
  requests in flight: more would leave one idle), and no more than the rows left shared among the
  requests in flight, for the same reason;
- a request the service times out on ("SQL timeout expired", -2147204783 = ``0x80044151``; "reduce the
  batch size of your request", the same page's "Troubleshooting common errors") is sent again in halves
  by the client, and the table's requests stay at most half its size from then on.

Body size does not bound them first: the limit Microsoft names is 116.85 MB with a plug-in registered,
and ``most`` rows (5,000 at the defaults) of the flows' payloads are a few MB.
"""

from __future__ import annotations

import threading

#: How long one request is aimed to take: a sixth of the client's 60 s timeout (a request cut by it is sent
#: again: a refused CreateMultiple then costs key reads), a twelfth of Dataverse's 2-minute limit.
TARGET_SECONDS = 10.0


class BulkSize:
    """The rows of the next bulk requests of one table and message, from how long its last ones took.
    Shared by the threads writing the table, hence the lock."""

    def __init__(self, start: int, most: int):
        self.start, self.most = start, max(start, most)
        self._pace: float | None = None      # seconds per row of the last requests, slow ones weighing more
        self._ceiling: int | None = None     # at most this many rows: half a request that timed out
        self._lock = threading.Lock()

    @property
    def measured(self) -> bool:
        """Whether a request of this table and message has answered yet."""
        return self._pace is not None

    def rows(self, pending: int, workers: int) -> int:
        """Rows a request carries when ``pending`` rows go out ``workers`` requests at a time."""
        with self._lock:
            size = self.start
            if self._pace is not None:
                fit = int(TARGET_SECONDS / self._pace) if self._pace > 0 else self.most
                size = max(self.start, min(self.most, fit, -(-pending // workers)))
            return size if self._ceiling is None else max(1, min(size, self._ceiling))

    def took(self, rows: int, seconds: float) -> None:
        """A request of ``rows`` rows answered after ``seconds``. A slower pace counts at once, a faster one
        by half: one quick answer does not double the next requests."""
        pace = seconds / max(rows, 1)
        with self._lock:
            self._pace = pace if self._pace is None else max(pace, (self._pace + pace) / 2)

    def timed_out(self, rows: int) -> None:
        """A request of ``rows`` rows timed out: later ones carry at most half as many."""
        with self._lock:
            half = max(1, rows // 2)
            self._ceiling = half if self._ceiling is None else min(self._ceiling, half)
