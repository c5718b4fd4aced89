"""The counting laws the closed forms share: how many of a tile's block rows keep a block when a fixed
number of blocks is kept uniformly at random (``docs/model.md`` §3.4). Plain functions of integers and
real numbers, used by :mod:`kernels.tile_stats` (one FullBlock draw) and :mod:`kernels.nested_stats`
(a draw inside a draw)."""

import math

import numpy as np

from .jit import jit

_TINY = 1e-15  # probabilities below this are dropped from the sums


@jit
def ceil_div(a, b):
    """Integer ceiling division for non-negative integers."""
    return -(-a // b)


@jit
def kept_blocks(ratio, n_blocks):
    """FullBlock keeps Phi = floor((1 - r) * blocks) blocks (CIMinus, Qi et al. 2026)."""
    return int(math.floor((1.0 - ratio) * n_blocks + 1e-9))


@jit
def all_zero_probability(n_blocks, n_kept, c):
    """P(c given blocks are all pruned) when n_kept of n_blocks are kept uniformly at random."""
    if c > n_blocks - n_kept:
        return 0.0
    p = 1.0
    for i in range(c):
        p *= (n_blocks - n_kept - i) / (n_blocks - i)
    return p


@jit
def _log_choose(n, k):
    return math.lgamma(n + 1.0) - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0)


@jit
def _tilt_to_mean(pmf, lo, hi, mean):
    """Normalise pmf[lo..hi] and tilt it (w_k * exp(theta k)) until its mean is ``mean`` exactly."""
    base = np.empty(hi - lo + 1)
    for k in range(lo, hi + 1):
        base[k - lo] = pmf[k]
    theta = 0.0
    for _ in range(50):
        top = -math.inf
        for k in range(lo, hi + 1):
            top = max(top, math.log(base[k - lo] + 1e-300) + theta * k)
        z = m1 = m2 = 0.0
        for k in range(lo, hi + 1):
            w = math.exp(math.log(base[k - lo] + 1e-300) + theta * k - top)
            pmf[k] = w
            z += w
            m1 += w * k
            m2 += w * k * k
        m1 /= z
        var = m2 / z - m1 * m1
        for k in range(lo, hi + 1):
            pmf[k] /= z
        gap = mean - m1
        if abs(gap) < 1e-12 * max(1.0, mean) or var <= 1e-300:
            break
        theta += gap / var


_LOG_TINY = math.log(1e-18)  # pmf terms below this, relative to the mode, are dropped (mass < 1e-15)


@jit
def _hypergeometric(pmf, pop, succ, draws, lo, hi):
    """pmf[k] = C(succ, k) C(pop - succ, draws - k) / C(pop, draws) on lo..hi (real-valued pop and succ
    allowed), computed from the mode outwards by the ratio of consecutive terms and stopped where the terms
    fall below 1e-18 of the mode: O(standard deviation) work instead of O(draws) log-gamma calls.
    Returns the window (first, last) that was filled."""
    mode = int(math.floor((draws + 1.0) * (succ + 1.0) / (pop + 2.0)))
    mode = min(hi, max(lo, mode))
    top = _log_choose(succ, mode) + _log_choose(pop - succ, draws - mode) - _log_choose(pop, draws)
    pmf[mode] = math.exp(top)
    lp = top
    last = mode
    for k in range(mode, hi):
        lp += math.log((succ - k) * (draws - k)) - math.log((k + 1.0) * (pop - succ - draws + k + 1.0))
        if lp - top < _LOG_TINY:
            break
        pmf[k + 1] = math.exp(lp)
        last = k + 1
    lp = top
    first = mode
    for k in range(mode, lo, -1):
        lp += math.log(k * (pop - succ - draws + k)) - math.log((succ - k + 1.0) * (draws - k + 1.0))
        if lp - top < _LOG_TINY:
            break
        pmf[k - 1] = math.exp(lp)
        first = k - 1
    return first, last


EXACT_ROWS_WORK = 500_000  # steps of the exact law of L below which it is computed exactly (small tiles)


@jit
def _kept_block_rows_exact(n_rows, n_blocks, n_kept, c, pmf):
    """The exact law of L: the tile's block-rows taken one at a time, conditioned on the kept blocks seen so
    far. With s kept among the first r rows' r*c blocks, the other n_kept - s are a uniform draw from the
    n_blocks - r*c blocks not yet seen, so the next row holds j of them with probability
    C(c, j) C(n_blocks - (r+1) c, n_kept - s - j) / C(n_blocks - r c, n_kept - s). State (s, rows with a
    kept block so far); O(n_rows^2 * min(n_kept, n_rows c) * c) steps."""
    top = min(n_kept, n_rows * c)
    cur = np.zeros((top + 1, n_rows + 1))
    nxt = np.zeros((top + 1, n_rows + 1))
    cur[0, 0] = 1.0
    for r in range(n_rows):
        unseen = n_blocks - r * c
        for s in range(top + 1):
            for l in range(n_rows + 1):
                nxt[s, l] = 0.0
        for s in range(min(top, r * c) + 1):
            left = n_kept - s
            if left < 0 or left > unseen:
                continue
            base = _log_choose(float(unseen), float(left))
            for j in range(min(c, min(left, top - s)) + 1):
                if left - j > unseen - c:
                    continue
                pj = math.exp(_log_choose(float(c), float(j)) + _log_choose(float(unseen - c), float(left - j)) - base)
                hit = 1 if j > 0 else 0
                for l in range(r + 1):
                    if cur[s, l] > 0.0:
                        nxt[s + j, l + hit] += cur[s, l] * pj
        for s in range(top + 1):
            for l in range(n_rows + 1):
                cur[s, l] = nxt[s, l]
    for l in range(n_rows + 1):
        total = 0.0
        for s in range(top + 1):
            total += cur[s, l]
        pmf[l] = total


@jit
def kept_block_rows_pmf(n_rows, n_blocks, n_kept, c, pmf):
    """:func:`kept_block_rows_law` exact up to ``EXACT_ROWS_WORK`` steps."""
    kept_block_rows_law(n_rows, n_blocks, n_kept, c, pmf, EXACT_ROWS_WORK)


@jit
def kept_block_rows_law(n_rows, n_blocks, n_kept, c, pmf, exact_work):
    """Distribution of L, the block-rows (of ``n_rows``) with at least one of their ``c`` blocks kept.

    With ``c == 1`` L counts kept blocks in one block column: exactly hypergeometric. With ``c > 1`` it is
    exact for small tiles (:func:`_kept_block_rows_exact`, up to ``exact_work`` steps), where few
    rows or few kept blocks make it far from normal; for larger ones its mean and variance are exact and
    its shape is a hypergeometric fitted to them (``docs/model.md`` §3.4).
    """
    for i in range(n_rows + 1):
        pmf[i] = 0.0
    if n_kept <= 0:
        pmf[0] = 1.0
        return
    if n_kept >= n_blocks:
        pmf[n_rows] = 1.0
        return
    if c > 1 and n_rows * n_rows * (min(n_kept, n_rows * c) + 1) * (c + 1) <= exact_work:
        _kept_block_rows_exact(n_rows, n_blocks, n_kept, c, pmf)
        return
    if c == 1:
        lo = max(0, n_rows - (n_blocks - n_kept))
        hi = min(n_rows, n_kept)
        _hypergeometric(pmf, float(n_blocks), float(n_kept), float(n_rows), lo, hi)
        return
    # c > 1: P(a block-row is empty) and P(two given block-rows are empty) are exact, hence the exact
    # mean and variance of L. L then follows a hypergeometric law whose (real-valued) population is
    # chosen to reproduce both; with independent rows it would be binomial and too wide.
    z1 = all_zero_probability(n_blocks, n_kept, c)
    z2 = all_zero_probability(n_blocks, n_kept, 2 * c) if n_rows > 1 else 0.0
    q = 1.0 - z1
    if q <= 0.0:
        pmf[0] = 1.0
        return
    if q >= 1.0:
        pmf[n_rows] = 1.0
        return
    var = n_rows * z1 * (1.0 - z1) + n_rows * (n_rows - 1.0) * (z2 - z1 * z1)
    f = var / (n_rows * q * (1.0 - q))
    if n_rows > 1 and 1e-9 < f < 1.0 - 1e-9:
        pop = (n_rows - f) / (1.0 - f)
        succ = q * pop
        lo = max(0, int(math.ceil(n_rows - (pop - succ) - 1e-9)))
        hi = min(n_rows, int(math.floor(succ + 1e-9)))
    else:
        lo, hi = 1, 0
    if hi > lo:
        first, last = _hypergeometric(pmf, pop, succ, float(n_rows), lo, hi)
        _tilt_to_mean(pmf, first, last, n_rows * q)
        return
    # The fitted law has no room on the integers (very few kept blocks): independent rows, exact mean.
    lq = math.log(q)
    l1q = math.log1p(-q)
    for k in range(n_rows + 1):
        pmf[k] = math.exp(_log_choose(n_rows, k) + k * lq + (n_rows - k) * l1q)

