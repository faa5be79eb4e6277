"""Compressed history (issue 14): closed UTC days of readings kept as per-signal blocks of a few bytes per reading.

The contract every reader and writer of readings relies on:
- Every (signal_id, ts) lives in exactly one place: a row of `readings` (hot) or a block of `reading_blocks`
  (closed). Moves between the two happen in one transaction.
- `reading_blocks(signal_id, block_start, block_end, first_ts, last_ts, count, payload)`, primary key
  (signal_id, block_start): the readings of one signal with block_start ≤ ts < block_end, a span of `BLOCK_SPAN`
  aligned to the UTC hour; first_ts/last_ts/count describe the payload (`codec.decode_block`). Blocks never span a
  UTC day, so a day is compressed or not as a whole.
- `compressed_days(day date)` lists the UTC days whose readings are in blocks. A compressed day has no `readings`
  partition (the job drops it; `ensure_readings_partitions()` will not recreate it), so its readings are found in
  `reading_blocks` only; every other day's readings are in `readings` only. A reader needs no marker to be correct:
  `readings ∪ decoded blocks` over any range is the whole truth at any snapshot.
- Timestamps in payloads are microseconds since the Unix epoch, UTC (`ts_us`); values float64 bit for bit;
  qualities int32 as stored.
- Writers of readings (ingest's write path) take `pg_advisory_xact_lock_shared(day_lock_key(day))` for every day
  before the current UTC day they write, then look at `compressed_days`; to merge into a compressed day's blocks
  they also take `pg_advisory_xact_lock(day_merge_key(day))`. The compression job takes `day_lock_key(day)`
  exclusively while it moves the day, and only moves days that ended at least an hour ago (`MIN_COMPRESS_AFTER`),
  so a writer's and the job's clocks may differ by up to that much.

- 1-minute rollups of a compressed day are packed: `rollup_days(signal_id, day, minutes, first_bucket,
  last_bucket, last_ts, last_value, good_last_ts, good_last_value, payload)` holds one signal's rollups_1m rows of
  that UTC day (`minutes_codec`), moved there in the compression job's transaction. Every (signal_id, minute) is a row
  of rollups_1m or a minute of a packed day, never both; readers read both in one statement. A late reading into a
  compressed day unpacks its signal-day back into rows (under the day's merge lock) before folding; the job packs
  it again on a later run, under the day lock. Only compressed days are packed.

Modules: `codec` (pure: encode/decode a block), `spans` (pure: block and day arithmetic), `minutes_codec` (pure:
encode/decode a packed day of minute rollups), `packed` (packing SQL and shapes), `reader` (reading raw readings).
"""
