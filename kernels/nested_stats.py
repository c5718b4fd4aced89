"""Closed-form tile statistics of a draw inside a draw: a first FullBlock stage of blocks narrower than the
matrix (``sparsity.first = "block"``) keeps ``Phi1`` of its blocks, and the FullBlock pattern keeps
floor((1 - r) * live) of its own blocks among the ``live`` ones that still hold a kept weight
(``docs/model.md`` §3.6).

Along the compressed axis the two stages' blocks nest (one height divides the other, or one block spans
the axis). The taller stage cuts a tile into *coarse rows*, the shorter one each coarse row into *fine
rows*. A tile's kept rows are a compound count: the coarse rows holding a kept coarse block follow the
exact-count law of one FullBlock draw (:func:`kernels.laws.kept_block_rows_law`), and each of them keeps as
many fine rows as hold a kept fine block under its kept coarse blocks, the fine stage's own fixed count
coupling them (:func:`_branch`). :func:`nested_slots` gives, per distinct tile, the moments
:func:`kernels.tile_stats.expected_tile_stats` sums over tiles and groups; :func:`sliced_sum` the sliced
tiles where their piece counts are lumpy.
"""

import math

import numpy as np

from .jit import jit
from .laws import _TINY, _hypergeometric, all_zero_probability, ceil_div, kept_block_rows_law, kept_blocks

NESTED_EXACT_WORK = 2_000_000  # steps of the exact sum over coarse rows below which no normal stands in for it
NESTED_CHEAP_WORK = 100_000  # ... below which it is taken even where one smooth normal would do
NESTED_SLICE_WORK = 2_000_000  # steps of the exact sum of sliced pieces below which it replaces the normal
COARSE_EXACT_WORK = 50_000  # ... and of a tile's live coarse rows (one call per tile)
BRANCH_CELLS = 2_000_000  # cells of the per-branch piece laws kept for sliced tiles (else offsets independent)
FINE_EXACT_WORK = 20_000  # steps of the exact law of one coarse row's fine rows (the fitted law above; one call per kept count)


@jit
def zero_probability(pool, kept, d):
    """P(``d`` given blocks are all pruned) when ``kept`` of ``pool`` are kept uniformly at random, for real
    ``pool``, ``kept`` and ``d`` (log-linear between the neighbouring whole ``d``): the law of one draw
    where the pattern's pool (its live blocks) is only known in expectation."""
    if d <= 0.0 or kept <= 0.0:
        return 1.0
    if kept >= pool:
        return 0.0
    whole = int(math.floor(d + 1e-9))
    z = 1.0
    for i in range(whole):
        if pool - kept - i <= 0.0:  # more blocks than are pruned: one of them is kept
            return 0.0
        z *= (pool - kept - i) / (pool - i)
    frac = d - whole
    if frac <= 1e-9:
        return z
    z_up = z * (pool - kept - whole) / (pool - whole) if pool - kept - whole > 0.0 else 0.0
    if z_up <= 0.0:
        return z * (1.0 - frac)
    return math.exp((1.0 - frac) * math.log(z) + frac * math.log(z_up))


@jit
def _whole(x):
    return abs(x - round(x)) < 1e-9


@jit
def fine_rows_law(m, pool, kept, d, pmf, scratch):
    """Law (``pmf[0..m]``) of the fine rows, of ``m``, that keep one of the ``d`` fine blocks each row meets,
    ``kept`` of ``pool`` being kept at random: the exact-count law where the numbers are whole (between
    the neighbouring whole ``d`` otherwise), independent rows of the exact mean where the pool is an
    expectation. Returns True for independent rows (their pairs' covariance left out)."""
    for i in range(m + 1):
        pmf[i] = 0.0
    if d <= 1e-12 or kept <= 0.0:
        pmf[0] = 1.0
        return False
    lo = int(math.floor(d + 1e-9))
    hi = lo if _whole(d) else lo + 1
    if _whole(pool) and _whole(kept) and m * hi <= round(pool):
        frac = d - lo if hi > lo else 0.0
        for c in range(lo, hi + 1):
            w = 1.0 - frac if c == lo else frac
            if w <= 0.0:
                continue
            if c == 0:
                pmf[0] += w
                continue
            kept_block_rows_law(m, int(round(pool)), int(round(kept)), c, scratch, FINE_EXACT_WORK)
            for i in range(m + 1):
                pmf[i] += w * scratch[i]
        return False
    q = 1.0 - zero_probability(pool, kept, d)
    if q >= 1.0:
        pmf[m] = 1.0
        return False
    if q <= 0.0:
        pmf[0] = 1.0
        return False
    lq = math.log(q)
    l1q = math.log1p(-q)
    for k in range(m + 1):
        pmf[k] = math.exp(math.lgamma(m + 1.0) - math.lgamma(k + 1.0) - math.lgamma(m - k + 1.0) + k * lq
                          + (m - k) * l1q)
    return True


@jit
def _meet_counts(length, block, outer):
    """The blocks of ``block`` positions along an axis of ``length`` by how many blocks of ``outer``
    positions each meets: (``values``, ``counts``, how many distinct values; at most four: two in the
    interior when the sizes do not divide, and the last block), and each block's value."""
    n = ceil_div(length, block)
    values = np.zeros(4, dtype=np.int64)
    counts = np.zeros(4)
    meets = np.empty(n, dtype=np.int64)
    n_values = 0
    for i in range(n):
        start = i * block
        end = min(length, start + block)
        meets[i] = (end - 1) // outer - start // outer + 1
        v = 0
        while v < n_values and values[v] != meets[i]:
            v += 1
        if v == n_values:
            values[v] = meets[i]
            n_values += 1
        counts[v] += 1.0
    return values, counts, n_values, meets


@jit
def _pair_counts(length, block, outer):
    """Ordered pairs of blocks of ``block`` positions along an axis of ``length`` (a block and itself
    included), by how many blocks of ``outer`` positions each meets and how many of those both meet:
    ``n_pairs`` rows of (meets of one, meets of the other, shared, how many pairs); :func:`_meet_counts`'
    histogram; and how many blocks at least live or die together (those inside one outer block, where
    every block lies inside one: their greatest common divisor; 1 otherwise)."""
    values, counts, n_values, meets = _meet_counts(length, block, outer)
    top = n_values * n_values * 2 + 2 * ceil_div(block, outer) + 8
    rows = np.zeros((top, 4))
    n_pairs = 0
    for a in range(n_values):  # pairs sharing nothing, corrected below
        for b in range(n_values):
            rows[n_pairs, 0] = values[a]
            rows[n_pairs, 1] = values[b]
            rows[n_pairs, 3] = counts[a] * counts[b]
            n_pairs += 1
    if block <= outer and outer % block == 0:  # blocks inside the outer ones: pairs in one outer block share it
        same = 0.0
        together = 0
        for f in range(ceil_div(length, outer)):
            inside = ceil_div(min(length, (f + 1) * outer), block) - ceil_div(f * outer, block)
            same += inside * inside
            together = math.gcd(together, inside)
        rows[0, 3] -= same  # (values = [1]: one row of pairs so far)
        rows[n_pairs, 0] = 1.0
        rows[n_pairs, 1] = 1.0
        rows[n_pairs, 2] = 1.0
        rows[n_pairs, 3] = same
        return rows, n_pairs + 1, values, counts, n_values, max(1, together)
    if block % outer == 0:  # outer blocks inside these: only a block and itself share any
        for a in range(n_values):
            rows[a * n_values + a, 3] -= counts[a]
            rows[n_pairs, 0] = values[a]
            rows[n_pairs, 1] = values[a]
            rows[n_pairs, 2] = values[a]
            rows[n_pairs, 3] = counts[a]
            n_pairs += 1
        return rows, n_pairs, values, counts, n_values, 1
    n = ceil_div(length, block)
    reach = ceil_div(outer, block) + 1
    for i in range(n):
        lo = (i * block) // outer
        hi = lo + meets[i] - 1
        for k in range(max(0, i - reach), min(n, i + reach + 1)):
            lo_k = (k * block) // outer
            shared = min(hi, lo_k + meets[k] - 1) - max(lo, lo_k) + 1
            if shared <= 0:
                continue
            r = 0
            while r < n_pairs and not (rows[r, 0] == meets[i] and rows[r, 1] == meets[k] and rows[r, 2] == shared):
                r += 1
            if r == n_pairs:
                rows[r, 0] = meets[i]
                rows[r, 1] = meets[k]
                rows[r, 2] = shared
                n_pairs += 1
            rows[r, 3] += 1.0
            r0 = 0
            while not (rows[r0, 0] == meets[i] and rows[r0, 1] == meets[k] and rows[r0, 2] == 0.0):
                r0 += 1
            rows[r0, 3] -= 1.0
    return rows, n_pairs, values, counts, n_values, 1


@jit
def live_blocks(height, width, first_h, first_w, block_h, block_w, n_first, first_kept):
    """(mean, variance, step) of the pattern's live blocks, those meeting a kept first block. A pattern block
    that meets ``f`` first blocks is dead with probability z(f) (all pruned), and two that meet ``f`` and
    ``f'`` of them, ``s`` in common, are both dead with probability z(f + f' - s): the variance sums that
    over the pairs, counted by rows and by columns (a first block is a first-block row x a first-block
    column). The count moves in steps of ``step``: pattern blocks that meet the same first blocks live or
    die together."""
    rows, n_rows, rv, rc, nrv, step_r = _pair_counts(height, block_h, first_h)
    cols, n_cols, cv, cc, ncv, step_c = _pair_counts(width, block_w, first_w)
    mean = 0.0
    for a in range(nrv):
        for b in range(ncv):
            mean += rc[a] * cc[b] * (1.0 - all_zero_probability(n_first, first_kept, rv[a] * cv[b]))
    var = 0.0
    for i in range(n_rows):
        if rows[i, 3] == 0.0:
            continue
        for j in range(n_cols):
            if cols[j, 3] == 0.0:
                continue
            fa = int(rows[i, 0] * cols[j, 0])
            fb = int(rows[i, 1] * cols[j, 1])
            both = all_zero_probability(n_first, first_kept, fa + fb - int(rows[i, 2] * cols[j, 2]))
            var += rows[i, 3] * cols[j, 3] * (both - all_zero_probability(n_first, first_kept, fa)
                                              * all_zero_probability(n_first, first_kept, fb))
    return mean, max(0.0, var), step_r * step_c


@jit
def _dead_rows(height, width, first_h, first_w, block_h, block_w, n_first, first_kept):
    """P(a pattern block holds no kept first block), for the pattern's full block rows and its last one
    (averaged over the block columns), and the first-block columns a pattern block meets on average: the
    pattern's blocks are the taller, so each holds whole first-block rows."""
    values, counts, n_values, _ = _meet_counts(width, block_w, first_w)
    n_rows = ceil_div(height, block_h)
    full = block_h // first_h
    last = ceil_div(height - (n_rows - 1) * block_h, first_h)
    dead = 0.0
    dead_last = 0.0
    spans = 0.0
    total = 0.0
    for v in range(n_values):
        dead += counts[v] * all_zero_probability(n_first, first_kept, full * values[v])
        dead_last += counts[v] * all_zero_probability(n_first, first_kept, last * values[v])
        spans += counts[v] * values[v]
        total += counts[v]
    return dead / total, dead_last / total, spans / total


@jit
def pattern_kept(mean, var, ratio, n_blocks, step):
    """E[floor((1 - ratio) * live)] for a live count of the given mean and variance that moves in steps of
    ``step`` on 0 .. ``n_blocks``: a discretised normal on those values, its centre moved until the law cut
    at both ends keeps the mean (the fraction the floor drops is ``(1 - ratio) * mean - ...``, not always
    one half: a count of whole rows of 8 blocks at ratio 0.5 drops none)."""
    if var < 1e-9:  # a count known to a fraction: its two neighbouring whole numbers, mixed
        lo_v = int(math.floor(mean + 1e-9))
        frac = mean - lo_v
        return (1.0 - frac) * kept_blocks(ratio, lo_v) + frac * kept_blocks(ratio, lo_v + 1)
    sd = math.sqrt(var)
    if sd > 2000.0 * step and mean - 4.0 * sd >= 0.0 and mean + 4.0 * sd <= n_blocks:
        return (1.0 - ratio) * mean - 0.5  # the floor's fraction spread evenly over very many values
    lo = max(0, int(math.floor((mean - 6.0 * sd) / step)))
    hi = min(n_blocks // step, int(math.ceil((mean + 6.0 * sd) / step)))
    if hi < lo:
        return float(kept_blocks(ratio, int(round(mean))))
    centre = mean
    kept = 0.0
    for _ in range(30):
        tot = 0.0
        first = 0.0
        second = 0.0
        kept = 0.0
        for j in range(lo, hi + 1):
            v = j * step
            w = math.exp(-0.5 * ((v - centre) / sd) ** 2)
            tot += w
            first += w * v
            second += w * v * v
            kept += w * math.floor((1.0 - ratio) * v + 1e-9)
        if tot <= 0.0:
            return float(kept_blocks(ratio, int(round(mean))))
        kept /= tot
        cut_mean = first / tot
        gap = mean - cut_mean
        if abs(gap) < 1e-9 * max(1.0, mean):
            break
        # Newton: the cut law's mean moves with its centre at slope (its variance) / sd^2
        slope = max(1e-3, (second / tot - cut_mean * cut_mean) / var)
        centre += gap / slope
    return kept


@jit
def _add(k, fine, w, live, cap, piece, acc, pieces):
    """One value ``k`` of a tile's kept rows (``fine`` fine rows, ``live`` coarse rows) with probability ``w``
    into the moments ``acc`` (E[K], E[ceil(K/cap)], P(K = 0), E[pieces], E[pieces^2], E[fine rows],
    E[pieces * live], E[live], E[live^2], E[pieces * fine rows], E[fine rows^2]) and the pieces' law."""
    acc[0] += w * k
    acc[1] += w * ceil_div(k, cap)
    if k == 0:
        acc[2] += w
    p = ceil_div(k, piece)
    pieces[p] += w
    acc[3] += w * p
    acc[4] += w * p * p
    acc[5] += w * fine
    acc[6] += w * p * live
    acc[7] += w * live
    acc[8] += w * live * live
    acc[9] += w * p * fine
    acc[10] += w * fine * fine
    acc[12] += w


@jit
def _normal_sum(mean, var, top, g, short, p_short, w, live, cap, piece, acc, pieces):
    """A sum of fine rows of the given mean and variance (a discretised normal on 0 .. ``top``; the two whole
    numbers around the mean where the variance is nil) into the moments, ``short`` rows fewer with
    probability ``p_short``."""
    mean = min(float(top), max(0.0, mean))
    if var < 1e-12:
        lo = min(top, int(math.floor(mean)))
        hi = min(top, lo + 1)
    else:
        sd = math.sqrt(var)
        lo = max(0, int(math.floor(mean - 8.0 * sd)))
        hi = min(top, int(math.ceil(mean + 8.0 * sd)))
    tot = 0.0
    for t in range(lo, hi + 1):
        tot += max(0.0, 1.0 - abs(t - mean)) if var < 1e-12 else math.exp(-0.5 * (t - mean) ** 2 / var)
    for t in range(lo, hi + 1):
        wt = w * (max(0.0, 1.0 - abs(t - mean)) if var < 1e-12 else math.exp(-0.5 * (t - mean) ** 2 / var)) / tot
        if wt < _TINY:
            continue
        if p_short > 0.0 and t > 0:
            _add(g * t - short, t, wt * p_short, live, cap, piece, acc, pieces)
            _add(g * t, t, wt * (1.0 - p_short), live, cap, piece, acc, pieces)
        else:
            _add(g * t, t, wt, live, cap, piece, acc, pieces)


@jit
def _moments(pmf, top):
    mean = 0.0
    sq = 0.0
    for i in range(top + 1):
        mean += pmf[i] * i
        sq += pmf[i] * i * i
    return mean, max(0.0, sq - mean * mean)


@jit
def _tile_law(start, end, length, coarse_h, coarse_w, fine_h, fine_w, coarse_pool, coarse_kept, fine_pool,
              fine_kept, alpha, alpha_last, spans, thin_pool, thin_kept, thin_w, thin_some, other, live_var, ratio,
              n_pattern, step, w, cap, piece, acc, branches, by_branch):
    """The kept rows of the tile spanning ``start .. end`` of the other axis, with weight ``w``, into the
    moments (see :func:`_add`). The coarse stage keeps exactly ``coarse_kept`` of its ``coarse_pool`` blocks;
    a coarse row whose ``kappa`` kept blocks (of the ``c`` it meets in the tile) cover ``d(kappa)`` fine
    blocks of each fine row keeps the fine rows of :func:`fine_rows_law`. ``alpha`` >= 0 when the coarse
    blocks are the pattern's (or the first-block columns of its block rows): a kept one is live, it holds a
    kept first block (:func:`_live_condition`; a pattern block meets ``spans`` first-block columns on
    average), and a coarse block is kept with probability ``alpha`` (``alpha_last`` in a short last coarse
    row, whose blocks hold fewer first blocks: dead, hence kept, less often). ``thin_w`` > 0: the coarse blocks
    are first-block columns of the pattern's block rows, kept when live and keeping one of their pattern
    blocks (``thin_w`` wide, ``thin_kept`` of ``thin_pool`` live ones kept), which may lie outside the tile.
    The law of the tile's pieces goes to ``branches[2 l + last]`` by the number ``l`` of live coarse rows
    (and whether the short last one is among them), and is their sum over the rows of ``branches``; row 0
    of ``branches`` alone where one smooth law stands for them all (then ``branches[-1, 0]`` is set to 1), and
    for every branch unless ``by_branch``."""
    m = coarse_h // fine_h
    n_c = ceil_div(length, coarse_h)
    last_h = length - (n_c - 1) * coarse_h
    m_last = ceil_div(last_h, fine_h)
    short = m_last * fine_h - last_h
    split = m_last != m or short > 0
    if coarse_kept <= 0:
        _add(0, 0, w, 0, cap, piece, acc, branches[0])
        return
    c = (end - 1) // coarse_w - start // coarse_w + 1
    # fine blocks of one fine row in the tile, by how many coarse blocks they overlap
    meets = np.zeros(c + 1)
    for t in range(start // fine_w, (end - 1) // fine_w + 1):
        lo = max(start, t * fine_w)
        hi = min(end, (t + 1) * fine_w)
        meets[min(c, (hi - 1) // coarse_w - lo // coarse_w + 1)] += 1.0
    # ... and the coarse blocks in the tile by how many fine blocks of a fine row they overlap (``span_f``
    # values, ``span_n`` blocks each): the fine blocks under k kept coarse blocks, where fine blocks are the
    # narrower, is the sum of k of these, whose law :func:`_kept_width_law` gives
    span_f = np.zeros(c, dtype=np.int64)
    span_n = np.zeros(c)
    n_types = 0
    for t in range(start // coarse_w, (end - 1) // coarse_w + 1):
        lo = max(start, t * coarse_w)
        hi = min(end, (t + 1) * coarse_w)
        f = (hi - 1) // fine_w - lo // fine_w + 1
        i = 0
        while i < n_types and span_f[i] != f:
            i += 1
        if i == n_types:
            span_f[i] = f
            n_types += 1
        span_n[i] += 1.0
    by_width = coarse_w % fine_w == 0 and 1 < n_types <= 4 and c <= 64  # (fine blocks inside coarse ones)
    widths = np.zeros(c * (coarse_w // fine_w + 2) + 1)
    # kept coarse blocks of a live coarse row (>= 1 of c), for full rows and a short last one: a row whose
    # blocks are kept at a lower rate draws as if from a pool scaled by the inverse of its rate
    kap = np.zeros((2, c + 1))
    rate_full = alpha
    rate_last = alpha_last
    if thin_w > 0 and thin_some > 0.0:  # this tile's units keep a pattern block as often as their width says
        some_here = 0.0
        for t in range(start // coarse_w, (end - 1) // coarse_w + 1):
            lo = t * coarse_w
            n_blocks = (min(other, lo + coarse_w) - 1) // thin_w - lo // thin_w + 1
            some_here += (1.0 - zero_probability(thin_pool, thin_kept, n_blocks)) / c
        rate_full *= some_here / thin_some
        rate_last *= some_here / thin_some
    mean_alpha = -1.0
    if alpha >= 0.0:
        mean_alpha = ((n_c - 1.0) * alpha + alpha_last) / n_c if split else alpha
    for which in range(2):
        pool_w = float(coarse_pool)
        if mean_alpha > 0.0:
            rate = rate_full if which == 0 else rate_last
            pool_w = coarse_pool * mean_alpha / rate if rate > 0.0 else 0.0
        if pool_w <= coarse_kept or coarse_kept <= 0:
            kap[which, min(c, max(1, coarse_kept))] = 1.0
            continue
        lo_k = max(0, int(math.ceil(c - (pool_w - coarse_kept) - 1e-9)))
        hi_k = min(c, coarse_kept)
        f_k, l_k = _hypergeometric(kap[which], pool_w, float(coarse_kept), float(c), lo_k, hi_k)
        tot = 0.0
        for k in range(max(1, f_k), l_k + 1):
            tot += kap[which, k]
        kap[which, 0] = 0.0
        for k in range(1, c + 1):
            kap[which, k] = kap[which, k] / tot if tot > 0.0 and f_k <= k <= l_k else 0.0
    # One tile holding the whole matrix in one coarse row (the first stage coarse): every live pattern block is
    # here, m per fine block a row meets, so given d the pattern keeps exactly floor((1 - r) m d) of m d.
    solo = alpha < 0.0 and n_c == 1 and start == 0 and end == other
    # an active unit (a first-block column keeping a pattern block) keeps one in this tile with
    # probability ``active``: 1 where the unit lies inside the tile (averaged over the tile's units)
    active = 1.0
    if thin_w > 0:
        active = 0.0
        for t in range(start // coarse_w, (end - 1) // coarse_w + 1):
            lo = t * coarse_w
            hi = min(other, lo + coarse_w)
            unit = (hi - 1) // thin_w - lo // thin_w + 1  # pattern blocks of the unit, and of its part here
            here = (min(end, hi) - 1) // thin_w - max(start, lo) // thin_w + 1
            whole_unit = 1.0 - zero_probability(thin_pool, thin_kept, unit)
            p_here = 1.0 - zero_probability(thin_pool, thin_kept, here)
            active += min(1.0, p_here / whole_unit) / c if whole_unit > 0.0 else 0.0
    row = np.zeros(m + 1)
    row_last = np.zeros(m_last + 1)
    pmf = np.empty(m + 1)
    scratch = np.empty(m + 1)
    both = np.empty(m + 1)
    memo = np.empty((2, m + 1))  # the law of the last d, for full and last coarse rows
    memo_d = np.full(2, -1.0)
    d_mean = 0.0
    kappa_mean = 0.0
    apart = False
    for k in range(1, c + 1):
        wk = kap[0, k]
        if wk < _TINY and kap[1, k] < _TINY:
            continue
        kappa_mean += wk * k
        d = 0.0
        for n in range(1, c + 1):
            if meets[n] > 0.0:
                # P(none of the n coarse blocks it overlaps is among the k kept) = C(c - n, k) / C(c, k)
                miss = 0.0
                if n <= c - k:
                    miss = math.exp(math.lgamma(c - n + 1.0) - math.lgamma(c - n - k + 1.0)
                                    - math.lgamma(c + 1.0) + math.lgamma(c - k + 1.0))
                d += meets[n] * (1.0 - miss)
        d_mean += wk * d * active
        for which in range(2 if split else 1):
            rows = m if which == 0 else m_last
            if thin_w > 0:
                for i in range(rows + 1):
                    both[i] = 0.0
                for a in range(k + 1):  # a of the k live units keep a pattern block here (binomial)
                    wa = math.exp(math.lgamma(k + 1.0) - math.lgamma(a + 1.0) - math.lgamma(k - a + 1.0)
                                  + a * math.log(max(active, 1e-300)) + (k - a) * math.log(max(1.0 - active, 1e-300)))
                    if wa < _TINY:
                        continue
                    apart = fine_rows_law(rows, fine_pool, fine_kept, float(a), pmf, scratch) or apart
                    if a > 0:
                        _live_condition(pmf, rows, a, float(a), True, spans, fine_pool, fine_kept, scratch)
                    for i in range(rows + 1):
                        both[i] += wa * pmf[i]
                for i in range(rows + 1):
                    pmf[i] = both[i]
            elif by_width:  # the kept coarse blocks' widths differ (tile edges): mix over their sum
                top_d = _kept_width_law(k, span_n, span_f, n_types, widths)
                for i in range(rows + 1):
                    both[i] = 0.0
                for dv in range(top_d + 1):
                    if widths[dv] < _TINY:
                        continue
                    if solo:
                        fine_rows_law(rows, float(rows * dv), float(kept_blocks(ratio, rows * dv)), float(dv), pmf,
                                      scratch)
                    else:
                        apart = fine_rows_law(rows, fine_pool, fine_kept, float(dv), pmf, scratch) or apart
                    if alpha >= 0.0:
                        _live_condition(pmf, rows, k, float(dv), False, spans, fine_pool, fine_kept, scratch)
                    for i in range(rows + 1):
                        both[i] += widths[dv] * pmf[i]
                for i in range(rows + 1):
                    pmf[i] = both[i]
            elif alpha < 0.0 and memo_d[which] == d:  # the same blocks per row as the last kept count
                for i in range(rows + 1):
                    pmf[i] = memo[which, i]
            elif solo and abs(d - round(d)) < 1e-9:
                dv = int(round(d))
                fine_rows_law(rows, float(rows * dv), float(kept_blocks(ratio, rows * dv)), float(dv), pmf, scratch)
            else:
                apart = fine_rows_law(rows, fine_pool, fine_kept, d, pmf, scratch) or apart
                if alpha >= 0.0:
                    _live_condition(pmf, rows, k, d, False, spans, fine_pool, fine_kept, scratch)
                memo_d[which] = d
                for i in range(rows + 1):
                    memo[which, i] = pmf[i]
            for i in range(rows + 1):
                if which == 0:
                    row[i] += kap[0, k] * pmf[i]
                else:
                    row_last[i] += kap[1, k] * pmf[i]
    if not split:
        for i in range(m + 1):
            row_last[i] = row[i]
    lpmf = np.empty(n_c + 1)
    kept_block_rows_law(n_c, coarse_pool, coarse_kept, c, lpmf, COARSE_EXACT_WORK)
    last_share = 1.0 / n_c  # P(the last coarse row is among the live ones) per live row
    if mean_alpha > 0.0 and (split or rate_full != alpha):
        # a row whose blocks are kept at a lower rate draws as if from a larger pool (the same count kept)
        a_full = 0.0
        a_last = 0.0
        if rate_full > 0.0:
            a_full = 1.0 - zero_probability(coarse_pool * mean_alpha / rate_full, coarse_kept, c)
        if rate_last > 0.0:
            a_last = 1.0 - zero_probability(coarse_pool * mean_alpha / rate_last, coarse_kept, c)
        if not split:
            a_last = a_full
        if a_full + a_last > 0.0:
            _tilt(lpmf, n_c, (n_c - 1) * a_full + a_last)
            last_share = a_last / ((n_c - 1) * a_full + a_last)
    l_max = 0
    for l in range(n_c + 1):
        if lpmf[l] >= _TINY:
            l_max = l
    mu, var = _moments(row, m)
    mu_l, var_l = _moments(row_last, m_last)
    p_short = mu_l / m_last if short > 0 else 0.0
    # Fine rows of different coarse rows compete for the fine stage's fixed count: each pair covaries by
    # z(2d) - z(d)^2 (< 0), which independent coarse rows would miss (their sum too wide); so do fine rows
    # of one coarse row, where they were taken apart (:func:`_branch`).
    pair = zero_probability(fine_pool, fine_kept, 2.0 * d_mean) - zero_probability(fine_pool, fine_kept, d_mean) ** 2
    acc[11] += w * d_mean
    # Where the first stage cuts the coarse rows and no block crosses the tile's edges, the pattern's pool
    # follows what the tile keeps: live blocks here plus those outside, which share the first blocks left.
    own = alpha < 0.0 and not solo and _own_edges(start, end, other, coarse_w, fine_w)
    e_live = 0.0
    for l in range(1, l_max + 1):
        e_live += lpmf[l] * l
    base_q = 1.0 - zero_probability(fine_pool, fine_kept, d_mean)
    out_mean = 0.0
    out_first = 0.0
    if own:
        exposed_mean = 0.0
        for l in range(1, l_max + 1):
            p_last = min(1.0, l * last_share) if split else 0.0
            exposed_mean += lpmf[l] * ((1.0 - p_last) * l * m + p_last * ((l - 1.0) * m + m_last))
        out_mean = max(0.0, fine_pool - exposed_mean * d_mean)
        out_first = coarse_kept - e_live * kappa_mean
    e_lc, v_lc = _moments(lpmf, n_c)
    work = n_c * (l_max * m + 1.0) * (m + 1.0)
    if work > NESTED_CHEAP_WORK and lpmf[0] < 1e-12 and v_lc >= 9.0 and (
            mu * fine_h <= piece or e_lc * var >= mu * mu):
        # Many live coarse rows, spread over several values, each adding less than a sliced piece (or less
        # than the spread of the branches): the mixture over L_c is one smooth law. One normal, its mean and
        # variance from the branch at E[L_c] and the slope between its neighbours (the law of total variance).
        lc = min(l_max, max(2, int(round(e_lc))))
        lo_l = max(1, lc - 1)
        hi_l = min(l_max, lc + 1)
        p_last = min(1.0, lc * last_share) if split else 0.0
        m_mid, v_mid = _mixed_branch(lc, p_last, m, m_last, mu, var, mu_l, var_l, pair, apart, own, d_mean,
                                     fine_pool, fine_kept, live_var, ratio, n_pattern, step, out_mean, out_first,
                                     kappa_mean, coarse_kept, base_q)
        m_lo, _ = _mixed_branch(lo_l, p_last, m, m_last, mu, var, mu_l, var_l, pair, apart, own, d_mean,
                                fine_pool, fine_kept, live_var, ratio, n_pattern, step, out_mean, out_first,
                                kappa_mean, coarse_kept, base_q)
        m_hi, _ = _mixed_branch(hi_l, p_last, m, m_last, mu, var, mu_l, var_l, pair, apart, own, d_mean,
                                fine_pool, fine_kept, live_var, ratio, n_pattern, step, out_mean, out_first,
                                kappa_mean, coarse_kept, base_q)
        slope = (m_hi - m_lo) / (hi_l - lo_l) if hi_l > lo_l else mu
        mean_t = m_mid + slope * (e_lc - lc)
        var_t = v_mid + slope * slope * v_lc
        _normal_sum(mean_t, var_t, l_max * m, fine_h, short, min(1.0, e_lc * last_share) * p_short if split else 0.0,
                    w, e_lc, cap, piece, acc, branches[0])
        branches[-1, 0] = 1.0  # one law for every number of live coarse rows: no law per branch
        # E[pieces * L_c] and E[L_c^2] as the slope carries them
        acc[6] += w * fine_h * slope / piece * v_lc
        acc[8] += w * v_lc
        return
    if work > NESTED_EXACT_WORK:
        for l in range(1, l_max + 1):
            pl = lpmf[l]
            if pl < _TINY:
                continue
            p_last = min(1.0, l * last_share) if split else 0.0
            mean_b, v = _branch(l, False, m, m_last, mu, var, mu_l, var_l, pair, apart, own, d_mean, fine_pool,
                                fine_kept, live_var, ratio, n_pattern, step, out_mean, out_first, kappa_mean, coarse_kept,
                                base_q)
            _normal_sum(mean_b, v, l * m, fine_h, 0, 0.0, w * pl * (1.0 - p_last), l, cap, piece, acc,
                        branches[2 * l if by_branch else 0])
            if p_last > 0.0:
                mean_b, v = _branch(l, True, m, m_last, mu, var, mu_l, var_l, pair, apart, own, d_mean, fine_pool,
                                    fine_kept, live_var, ratio, n_pattern, step, out_mean, out_first, kappa_mean,
                                    coarse_kept, base_q)
                _normal_sum(mean_b, v, (l - 1) * m + m_last, fine_h, short, p_short, w * pl * p_last,
                            l, cap, piece, acc, branches[2 * l + 1 if by_branch else 0])
        _add(0, 0, w * lpmf[0], 0, cap, piece, acc, branches[0])
        return
    # exact: S_l, the fine rows kept by l live full coarse rows, is the l-fold convolution of ``row``, then
    # narrowed to the variance the fixed fine count leaves it
    top = l_max * m + 1
    prev = np.zeros(top)
    cur = np.zeros(top)
    both = np.zeros(top)
    narrow = np.zeros(top)
    _add(0, 0, w * lpmf[0], 0, cap, piece, acc, branches[0])
    prev[0] = 1.0  # S_0
    for l in range(1, l_max + 1):
        _convolve(prev, (l - 1) * m, row, m, cur)
        pl = lpmf[l]
        if pl >= _TINY:
            p_last = min(1.0, l * last_share) if split else 0.0
            mean_b, v = _branch(l, False, m, m_last, mu, var, mu_l, var_l, pair, apart, own, d_mean, fine_pool,
                                fine_kept, live_var, ratio, n_pattern, step, out_mean, out_first, kappa_mean, coarse_kept,
                                base_q)
            _reshape(cur, l * m, mean_b, v, narrow)
            for i in range(l * m + 1):
                wi = w * pl * (1.0 - p_last) * narrow[i]
                if wi >= _TINY:
                    _add(fine_h * i, i, wi, l, cap, piece, acc, branches[2 * l if by_branch else 0])
            if p_last > 0.0:
                t_top = (l - 1) * m + m_last
                _convolve(prev, (l - 1) * m, row_last, m_last, both)
                mean_b, v = _branch(l, True, m, m_last, mu, var, mu_l, var_l, pair, apart, own, d_mean, fine_pool,
                                    fine_kept, live_var, ratio, n_pattern, step, out_mean, out_first, kappa_mean,
                                    coarse_kept, base_q)
                _reshape(both, t_top, mean_b, v, narrow)
                for i in range(t_top + 1):
                    wi = w * pl * p_last * narrow[i]
                    if wi < _TINY:
                        continue
                    if p_short > 0.0 and i > 0:
                        _add(fine_h * i - short, i, wi * p_short, l, cap, piece, acc, branches[2 * l + 1 if by_branch else 0])
                        _add(fine_h * i, i, wi * (1.0 - p_short), l, cap, piece, acc, branches[2 * l + 1 if by_branch else 0])
                    else:
                        _add(fine_h * i, i, wi, l, cap, piece, acc, branches[2 * l + 1 if by_branch else 0])
        for i in range(l * m + 1):
            prev[i] = cur[i]


@jit
def _convolve(a, a_top, b, b_top, out):
    """``out[0 .. a_top + b_top]`` = the law of the sum of two independent counts of laws ``a`` and ``b``."""
    for i in range(a_top + b_top + 1):
        out[i] = 0.0
    for i in range(a_top + 1):
        if a[i] < _TINY:
            continue
        for z in range(b_top + 1):
            out[i + z] += a[i] * b[z]


@jit
def _own_edges(start, end, other, coarse_w, fine_w):
    """Whether no coarse or fine block crosses the edges of the tile ``start .. end`` (of ``other``)."""
    return start % coarse_w == 0 and start % fine_w == 0 and (
        end == other or (end % coarse_w == 0 and end % fine_w == 0))


@jit
def _live_condition(pmf, rows, k, d, narrow, spans, pool, kept, scratch):
    """The law ``pmf[0..rows]`` of the fine rows a coarse row keeps, given that each of the ``k`` kept
    pattern blocks over it holds a kept first block (it is live). The condition binds per *unit*: a
    first-block column holding kept pattern blocks (pattern blocks narrower, ``narrow``: ``d`` units of
    one block per row and ``rows`` in all) or a kept pattern block (``k`` units of ``d / k`` blocks per row
    and ``rows * spans`` in all, some maybe outside the tile). A row is empty where every unit's block
    there is pruned: P = e^units with e = (z(s) - z(f)) / (1 - z(f)), so E[Z] = rows (1 - e^units);
    all rows are empty with ((z(rows s) - z(f)) / (1 - z(f)))^units. The law keeps that P(Z = 0) and is
    tilted to that mean."""
    if narrow:
        units, per_row, whole = d, 1.0, float(rows)
    else:
        units, per_row, whole = float(k), d / k, rows * max(spans, d / k)
    z_whole = zero_probability(pool, kept, whole)
    if z_whole >= 1.0 or units <= 0.0:
        return
    e = max(0.0, zero_probability(pool, kept, per_row) - z_whole) / (1.0 - z_whole)
    p0 = (max(0.0, zero_probability(pool, kept, rows * per_row) - z_whole) / (1.0 - z_whole)) ** units
    mean = rows * (1.0 - e**units)
    if p0 >= 1.0 or pmf[0] >= 1.0:
        return
    # the positive part, renormalised and tilted to the conditional mean given Z > 0
    for i in range(rows):
        scratch[i] = pmf[i + 1]
    target = min(float(rows), max(1.0, mean / (1.0 - p0))) - 1.0
    _tilt(scratch, rows - 1, target)
    pmf[0] = p0
    for i in range(rows):
        pmf[i + 1] = (1.0 - p0) * scratch[i]


@jit
def _tilt(pmf, top, mean):
    """``pmf[0..top]`` tilted (w_k exp(theta k), renormalised) to the given mean: Newton steps on theta, kept
    inside a bracket that bisection shrinks (a bare Newton step overshoots where nearly all the mass sits
    on one value)."""
    log_base = np.full(top + 1, -np.inf)
    for k in range(top + 1):
        if pmf[k] > 0.0:
            log_base[k] = math.log(pmf[k])
    lo_t = -60.0
    hi_t = 60.0
    theta = 0.0
    for _ in range(100):
        top_w = -math.inf
        for k in range(top + 1):
            if log_base[k] > -math.inf:
                top_w = max(top_w, log_base[k] + theta * k)
        z = 0.0
        m1 = 0.0
        m2 = 0.0
        for k in range(top + 1):
            wt = math.exp(log_base[k] + theta * k - top_w) if log_base[k] > -math.inf else 0.0
            pmf[k] = wt
            z += wt
            m1 += wt * k
            m2 += wt * k * k
        m1 /= z
        var = m2 / z - m1 * m1
        for k in range(top + 1):
            pmf[k] /= z
        gap = mean - m1
        if abs(gap) < 1e-12 * max(1.0, mean):
            return
        if gap > 0.0:
            lo_t = theta
        else:
            hi_t = theta
        step = theta + gap / var if var > 1e-300 else 0.5 * (lo_t + hi_t)
        theta = step if lo_t < step < hi_t else 0.5 * (lo_t + hi_t)


@jit
def _kept_width_law(k, span_n, span_f, n_types, out):
    """Law (``out[d]``) of the sum of the widths ``span_f`` of k blocks drawn without replacement from
    ``span_n[t]`` blocks of each width: a product of binomial coefficients over the ways to split k among
    the (at most four) widths, over C(sum of span_n, k). Returns the largest sum."""
    total = 0.0
    top = 0
    for t in range(n_types):
        total += span_n[t]
        top += int(span_n[t]) * span_f[t]
    for i in range(top + 1):
        out[i] = 0.0
    base = math.lgamma(total + 1.0) - math.lgamma(k + 1.0) - math.lgamma(total - k + 1.0)
    counts = np.zeros(4, dtype=np.int64)
    n0 = int(span_n[0])
    n1 = int(span_n[1]) if n_types > 1 else 0
    n2 = int(span_n[2]) if n_types > 2 else 0
    n3 = int(span_n[3]) if n_types > 3 else 0
    for a in range(min(k, n0) + 1):
        for b in range(min(k - a, n1) + 1):
            for e in range(min(k - a - b, n2) + 1):
                f = k - a - b - e
                if f > n3 or f < 0:
                    continue
                counts[0] = a
                counts[1] = b
                counts[2] = e
                counts[3] = f
                lw = -base
                width = 0
                for t in range(n_types):
                    n = span_n[t]
                    lw += math.lgamma(n + 1.0) - math.lgamma(counts[t] + 1.0) - math.lgamma(n - counts[t] + 1.0)
                    width += counts[t] * span_f[t]
                out[width] += math.exp(lw)
    return top


@jit
def _branch(l, last, m, m_last, mu, var, mu_l, var_l, pair, apart, own, d, pool, kept, live_var, ratio, n_pattern, step,
            out_mean, out_first, kappa, first_kept, base_q):
    """(mean, variance) of the fine rows ``l`` live coarse rows keep (the short last one among them when
    ``last``): ``l`` (or ``l - 1`` and the last) draws of the coarse row's law, whose pairs covary through the
    fine stage's fixed count. ``own`` (the first stage is coarse, no block crosses the tile's edges): the
    pattern's pool is the live blocks here (``d`` per exposed fine row) and those outside, where the first
    blocks the tile did not take (``first_kept`` less ``kappa`` per live row; ``out_first`` on average) keep
    ``out_mean`` live blocks on average; the pattern keeps floor((1 - ratio) pool) of it, which moves the
    mean and the covariances of this branch."""
    n = (l - 1.0) * m + m_last if last else l * m
    mean = (l - 1.0) * mu + mu_l if last else l * mu
    single = (l - 1.0) * var + var_l if last else l * var
    pairs_across = ((l - 1.0) * (l - 2.0) * m * m + 2.0 * (l - 1.0) * m * m_last) if last else l * (l - 1.0) * m * m
    pairs_within = ((l - 1.0) * m * (m - 1.0) + m_last * (m_last - 1.0)) if last else l * m * (m - 1.0)
    if own and base_q > 0.0 and base_q < 1.0:
        outside = out_mean * max(0.0, first_kept - l * kappa) / out_first if out_first > 1e-9 else 0.0
        pool_l = n * d + outside
        kept_l = pattern_kept(pool_l, live_var * outside / pool if pool > 0.0 else 0.0, ratio, n_pattern, step)
        q = 1.0 - zero_probability(pool_l, kept_l, d)
        mean = min(float(n), mean * q / base_q)
        single *= q * (1.0 - q) / (base_q * (1.0 - base_q))
        pair = zero_probability(pool_l, kept_l, 2.0 * d) - zero_probability(pool_l, kept_l, d) ** 2
    v = single + pairs_across * pair + (pairs_within * pair if apart else 0.0)
    return mean, max(0.0, v)


@jit
def _mixed_branch(l, p_last, m, m_last, mu, var, mu_l, var_l, pair, apart, own, d, pool, kept, live_var, ratio,
                  n_pattern, step, out_mean, out_first, kappa, first_kept, base_q):
    """(mean, variance) of :func:`_branch` with the short last coarse row among the ``l`` live ones with
    probability ``p_last``."""
    m0, v0 = _branch(l, False, m, m_last, mu, var, mu_l, var_l, pair, apart, own, d, pool, kept, live_var, ratio,
                     n_pattern, step, out_mean, out_first, kappa, first_kept, base_q)
    if p_last <= 0.0:
        return m0, v0
    m1, v1 = _branch(l, True, m, m_last, mu, var, mu_l, var_l, pair, apart, own, d, pool, kept, live_var, ratio,
                     n_pattern, step, out_mean, out_first, kappa, first_kept, base_q)
    mean = (1.0 - p_last) * m0 + p_last * m1
    return mean, (1.0 - p_last) * (v0 + m0 * m0) + p_last * (v1 + m1 * m1) - mean * mean


@jit
def _reshape(pmf, top, mean, var, out):
    """``pmf[0..top]`` tilted to ``mean`` and narrowed to ``var`` (if that is smaller), into ``out``
    (``pmf`` is left as it is)."""
    have, _ = _moments(pmf, top)
    if abs(have - mean) <= 1e-9 * max(1.0, mean):
        _narrow(pmf, top, var, out)
        return
    tilted = pmf[: top + 1].copy()
    _tilt(tilted, top, mean)
    _narrow(tilted, top, var, out)


@jit
def _narrow(pmf, top, var, out):
    """``pmf[0..top]`` drawn in towards its mean until its variance is ``var`` (if that is smaller): each
    value t moves to mean + (t - mean) * sqrt(var / variance), its mass split between the two whole
    numbers around it (the mean is kept exactly)."""
    mean, have = _moments(pmf, top)
    for i in range(top + 1):
        out[i] = 0.0
    if have <= var + 1e-12 or have <= 0.0:
        for i in range(top + 1):
            out[i] = pmf[i]
        return
    scale = math.sqrt(var / have)
    for i in range(top + 1):
        if pmf[i] < _TINY:
            continue
        x = mean + (i - mean) * scale
        lo = min(top, max(0, int(math.floor(x))))
        frac = x - lo
        if frac <= 0.0 or lo >= top:
            out[lo] += pmf[i]
        else:
            out[lo] += pmf[i] * (1.0 - frac)
            out[lo + 1] += pmf[i] * frac


@jit
def nested_slots(length, other, tile_len, cap, piece, first_h, first_w, first_ratio, block_h, block_w, ratio,
                 tile_slot):
    """Per distinct tile of a draw inside a draw (``length`` along the compressed axis, ``other`` along the
    tiled one; blocks given as height along the compressed axis x width): E[ceil(K/cap)], E[K], P(K = 0),
    E[fine rows kept], the law of ceil(K/piece), its mean and variance, its covariance with the live coarse
    rows and their variance; E[K] of one tile spanning the whole other axis (the outputs any weight reaches,
    under column compression); the coarse stage (rows, block width, blocks, kept) through which tiles
    covary; and the covariance of two tiles' pieces through the fine stage, by slot.
    ``tile_slot[j]`` receives tile j's slot."""
    n_first = ceil_div(length, first_h) * ceil_div(other, first_w)
    first_kept = kept_blocks(first_ratio, n_first)
    n_pattern = ceil_div(length, block_h) * ceil_div(other, block_w)
    live_mean, live_var, step = live_blocks(length, other, first_h, first_w, block_h, block_w, n_first, first_kept)
    kept2 = pattern_kept(live_mean, live_var, ratio, n_pattern, step)
    # The coarse stage: the first one (its blocks as tall or taller), or the pattern, kept among live blocks.
    alpha = -1.0
    alpha_last = -1.0
    spans = 0.0
    thin_w = 0
    some = 0.0
    if first_h >= block_h:
        coarse_h, coarse_w, pool, active = first_h, first_w, n_first, float(first_kept)
    else:
        dead, dead_last, spans = _dead_rows(length, other, first_h, first_w, block_h, block_w, n_first, first_kept)
        coarse_h = block_h
        if block_w <= first_w:
            # Pattern blocks narrower than the first blocks: a first-block column of a pattern block row (a
            # *unit*) is live or dead as a whole; it is the coarse block, kept when live and keeping one of
            # its pattern blocks (the pattern's draw among the live blocks).
            coarse_w = first_w
            thin_w = block_w
            # a live unit keeps one of the pattern blocks it meets (averaged over the units of a row)
            u_values, u_counts, n_u, _ = _meet_counts(other, first_w, block_w)
            some = 0.0
            for v in range(n_u):
                some += u_counts[v] * (1.0 - zero_probability(live_mean, kept2, float(u_values[v])))
            some /= ceil_div(other, first_w)
            alpha = (1.0 - dead) * some
            alpha_last = (1.0 - dead_last) * some
            n_rows = ceil_div(length, block_h)
            units = ceil_div(other, first_w)
            pool = n_rows * units
            active = (n_rows - 1) * units * alpha + units * alpha_last
        else:
            rho = kept2 / live_mean if live_mean > 0.0 else 0.0  # a live pattern block's chance to be kept
            coarse_w = block_w
            alpha = (1.0 - dead) * rho
            alpha_last = (1.0 - dead_last) * rho
            pool = n_pattern
            active = kept2
    lo = int(math.floor(active + 1e-9))
    frac = active - lo
    fine_h, fine_w = (block_h, block_w) if first_h >= block_h else (first_h, first_w)
    fine_pool, fine_kept = (live_mean, kept2) if first_h >= block_h else (float(n_first), float(first_kept))

    n_tiles = ceil_div(other, tile_len)
    n_pieces = ceil_div(length, piece)
    n_slots = 0
    whole = 0
    # A tile's law depends on its width, where the block edges fall in it (none for blocks as wide as the
    # axis) and whether blocks cross its edges: tiles alike in these share one slot.
    sig = np.zeros((n_tiles + 1, 4), dtype=np.int64)
    acc = np.zeros((n_tiles + 1, 13))
    pieces = np.zeros((n_tiles + 1, n_pieces + 1))
    # pieces by branch (live coarse rows, short last one among them): where one coarse block spans every
    # tile, all tiles share the branch, and sliced offsets are taken per branch (:func:`sliced_by_branch`)
    n_branch = 2 * ceil_div(length, coarse_h) + 3
    keep_branches = coarse_w >= other and (n_tiles + 1) * n_branch * (n_pieces + 1) <= BRANCH_CELLS
    if keep_branches:
        branches = np.zeros((n_tiles + 1, n_branch, n_pieces + 1))
    else:
        branches = np.zeros((1, 2, n_pieces + 1))
        n_branch = 2
    for j in range(n_tiles + 1):
        start = j * tile_len if j < n_tiles else 0
        end = min(other, start + tile_len) if j < n_tiles else other
        key_first = start % first_w if first_w < other else 0
        key_block = start % block_w if block_w < other else 0
        key_own = 1 if _own_edges(start, end, other, coarse_w, fine_w) else 0
        s = -1
        for i in range(n_slots):
            if (sig[i, 0] == end - start and sig[i, 1] == key_first and sig[i, 2] == key_block
                    and sig[i, 3] == key_own):
                s = i
                break
        if s < 0:
            s = n_slots
            n_slots += 1
            fresh = True
        else:  # a tile like one already done (or, last, one real tile spanning the whole axis)
            fresh = False
        if j < n_tiles:
            tile_slot[j] = s
        else:
            whole = s
        if not fresh:
            continue
        sig[s, 0] = end - start
        sig[s, 1] = key_first
        sig[s, 2] = key_block
        sig[s, 3] = key_own
        for kc in range(lo, lo + 2):  # a kept count known in expectation only: its two neighbours, mixed
            wk = 1.0 - frac if kc == lo else frac
            if wk > 1e-12:
                rows_b = branches[s if keep_branches else 0]
                _tile_law(start, end, length, coarse_h, coarse_w, fine_h, fine_w, pool, min(kc, pool), fine_pool,
                          fine_kept, alpha, alpha_last, spans, live_mean, kept2, thin_w, some, other, live_var,
                          ratio, n_pattern, step, wk, cap, piece, acc[s], rows_b, keep_branches)
                if not keep_branches:  # summed into the slot's law at once; the rows are reused
                    for b in range(n_branch - 1):
                        for i in range(n_pieces + 1):
                            pieces[s, i] += rows_b[b, i]
                            rows_b[b, i] = 0.0
        if keep_branches:
            for b in range(n_branch - 1):
                for i in range(n_pieces + 1):
                    pieces[s, i] += branches[s, b, i]
    e_ceil = np.zeros(n_slots)
    e_k = np.zeros(n_slots)
    p_zero = np.zeros(n_slots)
    e_l = np.zeros(n_slots)
    mean_p = np.zeros(n_slots)
    var_p = np.zeros(n_slots)
    cov_pl = np.zeros(n_slots)
    var_l = np.zeros(n_slots)
    beta_f = np.zeros(n_slots)
    acc_mass = np.zeros(n_slots)
    for s in range(n_slots):
        # the laws were summed from pieces cut at 1e-15: their total mass is 1 to rounding, made exact here
        mass = acc[s, 12]
        acc_mass[s] = mass
        for i in range(12):
            acc[s, i] /= mass
        for i in range(n_pieces + 1):
            pieces[s, i] /= mass
        e_k[s] = acc[s, 0]
        e_ceil[s] = acc[s, 1]
        p_zero[s] = acc[s, 2]
        mean_p[s] = acc[s, 3]
        var_p[s] = max(0.0, acc[s, 4] - acc[s, 3] ** 2)
        e_l[s] = acc[s, 5]
        cov_pl[s] = acc[s, 6] - acc[s, 3] * acc[s, 7]
        var_l[s] = max(0.0, acc[s, 8] - acc[s, 7] ** 2)
        var_f = acc[s, 10] - acc[s, 5] ** 2
        if var_f > 1e-12:
            beta_f[s] = (acc[s, 9] - acc[s, 3] * acc[s, 5]) / var_f
    # The fine stage's fixed count couples tiles too: two fine rows of different tiles under kept coarse
    # blocks (m per live coarse row), meeting d_i and d_j fine blocks of their own, covary by
    # z(d_i + d_j) - z(d_i) z(d_j). Tiles whose fine blocks are apart only: ``fine_cov`` stays 0 where a
    # fine block crosses a tile boundary (rows that share a block covary the other way).
    fine_cov = np.zeros((n_slots, n_slots))
    if tile_len % fine_w == 0:
        m = coarse_h // fine_h
        for a in range(n_slots):
            for b in range(n_slots):
                da = acc[a, 11]
                db = acc[b, 11]
                pair = zero_probability(fine_pool, fine_kept, da + db) - (
                    zero_probability(fine_pool, fine_kept, da) * zero_probability(fine_pool, fine_kept, db))
                fine_cov[a, b] = beta_f[a] * beta_f[b] * (m * acc[a, 7]) * (m * acc[b, 7]) * pair
    smooth = False
    for s in range(n_slots if keep_branches else 0):
        if branches[s, n_branch - 1, 0] > 0.0:
            smooth = True
    if keep_branches and not smooth:
        for s in range(n_slots):
            for b in range(n_branch - 1):
                for i in range(n_pieces + 1):
                    branches[s, b, i] /= acc_mass[s]
    return (n_slots, e_ceil, e_k, p_zero, e_l, pieces[:n_slots].copy(), mean_p, var_p, cov_pl, var_l, e_k[whole],
            ceil_div(length, coarse_h), coarse_w, pool, int(round(active)), fine_cov,
            branches[:n_slots].copy() if keep_branches and not smooth else branches[:1, :1].copy())


@jit
def _place(law, reach, cond, n_pieces, u, offset, scratch):
    """One sliced tile with pieces of law ``cond`` packed after a running count of law ``law[0..reach]``:
    E[macros it spans] (its run of p pieces from fill offset o spans ceil((o + p)/u) of them), and the
    running count's law after it in place (returns (span, new reach))."""
    for o in range(u):
        offset[o] = 0.0
    for t in range(reach + 1):
        offset[t % u] += law[t]
    last = 0
    for p in range(n_pieces + 1):
        if cond[p] >= _TINY:
            last = p
    span = 0.0
    for o in range(u):
        if offset[o] < _TINY:
            continue
        for p in range(1, last + 1):
            if cond[p] >= _TINY:
                span += offset[o] * cond[p] * ceil_div(o + p, u)
    _convolve(law, reach, cond, last, scratch)
    for t in range(reach + last + 1):
        law[t] = scratch[t]
    return span, reach + last


@jit
def _macros(law, reach, u):
    """E[ceil(S / u)]: the macros of ``u`` pieces that a piece count of law ``law[0..reach]`` fills (its mass
    made 1: it was summed from terms cut at 1e-15)."""
    tiles = 0.0
    mass = 0.0
    for t in range(reach + 1):
        tiles += law[t] * ceil_div(t, u)
        mass += law[t]
    return tiles / mass


@jit
def sliced_sum_work(groups, n_tiles, n_pieces):
    """Steps of :func:`sliced_sum`: each tile convolves the running law (up to every piece so far) with its own."""
    total = groups * n_tiles * n_pieces
    return 0.5 * total * (n_pieces + 1.0)


@jit
def sliced_sum(groups, n_tiles, tile_slot, w_of, pieces, n_pieces, u, var_target):
    """(E[T], E[span] per group, width-weighted E[span] per group) of sliced tiles, the running piece count
    being the sum of the tiles' own laws (taken as independent) instead of a normal: a tile that keeps its
    rows or none (a first block over all its columns) makes that sum lumpy, which a normal smooths over.
    The sum's law is narrowed to ``var_target`` (the variance with the covariances a fixed count puts between
    tiles) before E[T] = E[ceil(S/u)] is taken."""
    top = groups * n_tiles * n_pieces
    law = np.zeros(top + 1)
    nxt = np.zeros(top + 1)
    law[0] = 1.0
    reach = 0
    offset = np.zeros(u)
    span_sum = 0.0
    span_sum_w = 0.0
    for _ in range(groups):
        for j in range(n_tiles):
            span, reach = _place(law, reach, pieces[tile_slot[j]], n_pieces, u, offset, nxt)
            span_sum += span
            span_sum_w += w_of[j] * span
    narrowed = np.zeros(reach + 1)
    _narrow(law, reach, var_target, narrowed)
    return _macros(narrowed, reach, u), span_sum / groups, span_sum_w / groups


@jit
def sliced_by_branch_work(groups, n_tiles, n_pieces, n_branch):
    """Steps of :func:`sliced_by_branch`: per group and branch, each tile convolves the running law."""
    return groups * n_branch * n_tiles * 0.5 * groups * n_tiles * n_pieces * (n_pieces + 1.0)


@jit
def sliced_by_branch(groups, n_tiles, tile_slot, w_of, branches, n_pieces, u):
    """(E[T], E[span] per group, width-weighted E[span] per group) of sliced tiles that all share the same
    coarse blocks (each spans every tile): given the branch (how many coarse rows are live, the short last
    one among them or not) the tiles' piece counts are drawn apart, and the branch is common to the tiles of
    a group, so each group's pieces are summed per branch and the branches mixed (groups apart). Where the
    tiles share the branch, their counts rise and fall together, which taking them as independent misses.
    ``branches[s, b]``: slot s's law of pieces and branch b, jointly."""
    n_branch = branches.shape[1]
    top = groups * n_tiles * n_pieces
    law = np.zeros(top + 1)
    law[0] = 1.0
    reach = 0
    nxt = np.zeros(top + 1)
    cur = np.zeros(top + 1)
    tmp = np.zeros(top + 1)
    offset = np.zeros(u)
    cond = np.zeros(n_pieces + 1)
    span_sum = 0.0
    span_sum_w = 0.0
    for _ in range(groups):
        for t in range(reach + n_tiles * n_pieces + 1):
            nxt[t] = 0.0
        reach_next = reach
        for b in range(n_branch):
            weight = 0.0
            for p in range(n_pieces + 1):
                weight += branches[tile_slot[0], b, p]
            if weight < _TINY:
                continue
            for t in range(reach + 1):
                cur[t] = law[t]
            reach_b = reach
            for j in range(n_tiles):
                s = tile_slot[j]
                mass = 0.0
                for p in range(n_pieces + 1):
                    mass += branches[s, b, p]
                for p in range(n_pieces + 1):
                    cond[p] = branches[s, b, p] / mass if mass > 0.0 else (1.0 if p == 0 else 0.0)
                span, reach_b = _place(cur, reach_b, cond, n_pieces, u, offset, tmp)
                span_sum += weight * span
                span_sum_w += weight * w_of[j] * span
            for t in range(reach_b + 1):
                nxt[t] += weight * cur[t]
            reach_next = max(reach_next, reach_b)
        reach = reach_next
        for t in range(reach + 1):
            law[t] = nxt[t]
    return _macros(law, reach, u), span_sum / groups, span_sum_w / groups
