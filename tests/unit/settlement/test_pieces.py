"""How buckets with any edges split into pieces read from rollup rows of the coarsest width that fits, or raw."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from shared.settlement.pieces import RAW, Piece, clusters, demote, plan, split

M = 60_000_000  # one minute in µs
Q, H = 15 * M, 60 * M
WIDTHS = (H, Q, M)


def test_a_bucket_splits_into_raw_ends_minute_and_quarter_shoulders_and_an_hourly_middle() -> None:
    lo, hi = 10 * H - 17 * M - 5_000_000, 14 * H + 31 * M + 2_500_000  # 09:42:55 → 14:31:02.5
    assert split(3, lo, hi, WIDTHS) == [
        Piece(3, lo, 10 * H - 17 * M, RAW),
        Piece(3, 10 * H - 17 * M, 10 * H - 15 * M, M),
        Piece(3, 10 * H - 15 * M, 10 * H, Q),
        Piece(3, 10 * H, 14 * H, H),
        Piece(3, 14 * H, 14 * H + 30 * M, Q),
        Piece(3, 14 * H + 30 * M, 14 * H + 31 * M, M),
        Piece(3, 14 * H + 31 * M, hi, RAW),
    ]


def test_a_bucket_inside_one_minute_is_read_raw_and_an_aligned_one_whole() -> None:
    assert split(0, 5, 9, WIDTHS) == [Piece(0, 5, 9, RAW)]
    assert split(0, Q, 2 * Q, WIDTHS) == [Piece(0, Q, 2 * Q, Q)]


def test_a_bad_rows_span_goes_to_the_next_finer_width_and_the_rest_stays() -> None:
    pieces = [Piece(0, 0, 4 * H, H), Piece(1, 4 * H, 6 * H, H)]
    assert demote(pieces, [H, 3 * H, 4 * H], WIDTHS) == [
        Piece(0, 0, H, H),
        Piece(0, H, 2 * H, Q),
        Piece(0, 2 * H, 3 * H, H),
        Piece(0, 3 * H, 4 * H, Q),
        Piece(1, 4 * H, 5 * H, Q),
        Piece(1, 5 * H, 6 * H, H),
    ]
    assert demote([Piece(0, 0, 2 * M, M)], [M], WIDTHS) == [Piece(0, 0, M, M), Piece(0, M, 2 * M, RAW)]


def test_pieces_far_apart_are_read_separately() -> None:
    a, b, c = Piece(0, 0, M, M), Piece(0, 3 * M, 4 * M, M), Piece(1, 40 * M, 41 * M, M)
    assert clusters([a, b, c], max_gap_us=16 * M) == [[a, b], [c]]


@given(st.lists(st.integers(0, 3 * 86_400_000_000), min_size=2, max_size=12, unique=True))
def test_pieces_tile_every_bucket_exactly_each_aligned_to_its_width(edges: list[int]) -> None:
    bounds = sorted(edges)
    pieces = plan(bounds, WIDTHS)
    for i in range(len(bounds) - 1):
        mine = [p for p in pieces if p.bucket == i]
        assert mine[0].lo_us == bounds[i] and mine[-1].hi_us == bounds[i + 1]
        assert all(x.hi_us == y.lo_us for x, y in pairwise(mine))
    for p in pieces:
        assert p.lo_us < p.hi_us
        if p.width_us == RAW:
            assert p.hi_us - p.lo_us < 2 * M  # what no minute row fits: less than a minute at either end
        else:
            assert p.lo_us % p.width_us == 0 and p.hi_us % p.width_us == 0
