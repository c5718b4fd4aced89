"""ciminus.threads: disjoint ranges of a kernel on every core, every item exactly once, errors raised."""

import itertools
import threading

import numpy as np
import pytest

from ciminus.threads import in_threads, pieces


@pytest.mark.parametrize("count,n_threads", [(1, 1), (1, 4), (7, 2), (8, 2), (1000, 3), (5, 16)])
def test_pieces_cover_the_range_once(count: int, n_threads: int) -> None:
    b = pieces(count, n_threads)
    assert b[0] == 0 and b[-1] == count
    assert all(lo < hi for lo, hi in itertools.pairwise(b))
    assert len(b) - 1 == (1 if n_threads == 1 else min(count, 4 * n_threads))


@pytest.mark.parametrize("n_threads", [1, 2, 5])
def test_every_item_once(n_threads: int) -> None:
    hits = np.zeros(1001, dtype=np.int64)
    seen: set[int] = set()

    def kernel(lo: int, hi: int, out: np.ndarray) -> None:
        seen.add(threading.get_ident())
        out[lo:hi] += 1

    in_threads(kernel, len(hits), n_threads, hits)
    assert (hits == 1).all()
    assert len(seen) <= n_threads


def test_nothing_to_do() -> None:
    in_threads(lambda lo, hi: pytest.fail("called"), 0, 4)


@pytest.mark.parametrize("bad", [0, 900])
def test_an_error_in_any_piece_is_raised(bad: int) -> None:
    done = np.zeros(1000, dtype=np.int64)

    def kernel(lo: int, hi: int) -> None:
        if lo <= bad < hi:
            raise ValueError(f"item {bad}")
        done[lo:hi] = 1

    with pytest.raises(ValueError, match=f"item {bad}"):
        in_threads(kernel, len(done), 2)
