"""`annotate-many`'s table: one row per video (its answer, or why it failed), as CSV or Parquet beside the tracks."""
from __future__ import annotations

import csv
import io

from .runner import Row
from .store import Store

COLUMNS = ("video", "name", "status", "reason", "label", "known", "confidence", "frames", "duration_s", "windows",
           "track", "overlay", "wall_s")
FORMATS = ("csv", "parquet")


def write_summary(store: Store, rows: list[Row], fmt: str, job: str) -> str:
    """The table written whole as `summary.<fmt>` in the store; its key."""
    table = [{c: r[c] for c in COLUMNS} for r in rows]
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(table), buf)
        data = buf.getvalue()
    else:
        text = io.StringIO()
        writer = csv.DictWriter(text, COLUMNS)
        writer.writeheader()
        writer.writerows(table)
        data = text.getvalue().encode()
    key = f"summary.{fmt}"
    store.write(key, data, job)
    return key
