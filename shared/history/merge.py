"""Merging late readings into a decoded block (pure): the exactly-once rules of the hot path, on arrays.

The hot path (services/ingest/store.py) keeps the first occurrence of a (signal, ts) within a batch (lowest index),
skips what is already stored, and reports every batch row whose stored twin differs in value or quality as a
conflict. `merge_into_block` does the same for one signal's block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from shared.history.codec import DecodedBlock


@dataclass(frozen=True, slots=True, eq=False)
class Merged:
    """The block after the merge, the readings that were new, and the batch indices that conflict."""

    block: DecodedBlock
    new: DecodedBlock
    conflicts: NDArray[np.int64]


def merge_into_block(
    stored: DecodedBlock,
    idx: NDArray[np.int64],
    ts_us: NDArray[np.int64],
    values: NDArray[np.float64],
    qualities: NDArray[np.int32],
) -> Merged:
    """Merge batch rows (any order, duplicates allowed; `idx` = position in the batch) into `stored`."""
    order = np.lexsort((idx, ts_us))  # by time, then batch position: the first occurrence comes first
    ts_sorted = ts_us[order]
    first = order[np.concatenate(([True], ts_sorted[1:] != ts_sorted[:-1]))] if len(order) else order
    candidates = ts_us[first]
    is_new = ~np.isin(candidates, stored.ts_us, assume_unique=True)
    new_rows = first[is_new]
    new = DecodedBlock(ts_us[new_rows], values[new_rows], qualities[new_rows].astype(np.int32))
    all_ts = np.concatenate((stored.ts_us, new.ts_us))
    merge_order = np.argsort(all_ts, kind="stable")
    block = DecodedBlock(
        all_ts[merge_order],
        np.concatenate((stored.values, new.values))[merge_order],
        np.concatenate((stored.qualities, new.qualities)).astype(np.int32)[merge_order],
    )
    # Every batch row against what is stored now (as the hot path's CONFLICTS_SQL does): `!=` like SQL's `<>`
    # (0.0 and -0.0 are the same number).
    at = np.searchsorted(block.ts_us, ts_us)
    differs = (block.values[at] != values) | (block.qualities[at] != qualities)
    return Merged(block, new, np.sort(idx[differs]))
