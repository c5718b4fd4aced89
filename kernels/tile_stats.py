"""Tile statistics of one layer: how many macro tiles, rows, partial sums and index bits a sparse weight
matrix needs once a mapping has compressed and rearranged it.

Two ways to the same numbers (``kernels.layout.S_*``):

* :func:`expected_tile_stats` — the closed-form expectation over random FlexBlock masks
  (``docs/model.md``, "Tile statistics"): hypergeometric counts of kept blocks, occupancy of
  column tiles, and a Markov chain over the fill offset for sliced packing; after a first stage of
  narrower blocks, the per-tile laws of :mod:`kernels.nested_stats` (a draw inside a draw).
* :func:`mask_tile_stats` — exact counts for given masks (Monte-Carlo draws, or real pruned weights).

Both take the weight matrix of one group in the *hardware view*: after IntraBlock compression, so a
``k``-of-``m`` column segment occupies ``k`` slots. Flat arguments in, a filled float64 row out.
"""

import math

import numpy as np

from .jit import jit, threaded
from .laws import (  # noqa: F401  (re-exported: the laws were born here and are imported from here)
    _TINY,
    EXACT_ROWS_WORK,
    _hypergeometric,
    all_zero_probability,
    ceil_div,
    kept_block_rows_pmf,
    kept_blocks,
)
from .layout import (
    COMPRESS_AUTO,
    COMPRESS_COL,
    COMPRESS_NONE,
    COMPRESS_ROW,
    FIRST_BLOCKS,
    FIRST_CHANNELS,
    FIRST_COLUMNS,
    FIRST_NONE,
    FIRST_ROWS,
    INDEX_AUTO,
    INDEX_BITMAP,
    JOB_ARRAY_COLS,
    JOB_ARRAY_ROWS,
    JOB_BLOCK_COLS,
    JOB_BLOCK_ROWS,
    JOB_CHANNEL_RUN,
    JOB_COLS,
    JOB_COMPRESS,
    JOB_DYNAMIC,
    JOB_FIRST,
    JOB_FIRST_BLOCK_COLS,
    JOB_FIRST_BLOCK_ROWS,
    JOB_FIRST_RATIO,
    JOB_GROUPS,
    JOB_IB_COLS,
    JOB_IB_FANIN,
    JOB_IB_LEN,
    JOB_IB_MASKS,
    JOB_IB_ONES,
    JOB_IB_USED,
    JOB_INDEX_FORMAT,
    JOB_KERNEL,
    JOB_NM_M,
    JOB_NM_N,
    JOB_PATTERN,
    JOB_RATIO,
    JOB_REARRANGE,
    JOB_ROWS,
    JOB_STAGE_ORDER,
    JOB_SUB_COLS,
    JOB_SUB_ROWS,
    N_STATS,
    PATTERN_CHANNEL_WISE,
    PATTERN_COLUMN_BLOCK,
    PATTERN_COLUMN_WISE,
    PATTERN_DENSE,
    PATTERN_FLEXBLOCK,
    PATTERN_HYBRID,
    PATTERN_NM,
    PATTERN_ROW_BLOCK,
    PATTERN_ROW_WISE,
    REARRANGE_PAD,
    REARRANGE_SLICE,
    REASON_COMPRESSION_UNSUPPORTED,
    REASON_FIRST_BLOCKS_EXPECTED,
    REASON_FIRST_BLOCKS_INTRABLOCK,
    REASON_IB_MASKS,
    REASON_NM_N_OVER_M,
    REASON_NM_RATIO,
    REASON_OK,
    REASON_SUBARRAY_MISMATCH,
    S_BIT_ONES,
    S_COL_TILES,
    S_CRIT_ROWS,
    S_F_CRIT,
    S_F_ENERGY,
    S_FETCH,
    S_IDX_READ,
    S_IDX_STORE,
    S_MUX_CELLS,
    S_MUX_LEVELS,
    S_OUT_NZ,
    S_PSUM,
    S_REASON,
    S_ROW_TILES,
    S_STORED,
    S_TILES,
    SIZE_ALL,
    SIZE_ARRAY,
    SIZE_DEFAULT,
    SIZE_KERNEL,
    STAGES_FULL_FIRST,
)
from .nested_stats import (
    NESTED_SLICE_WORK,
    nested_slots,
    sliced_by_branch,
    sliced_by_branch_work,
    sliced_sum,
    sliced_sum_work,
)


@jit
def log2_ceil(n):
    """Bits needed to address ``n`` items (0 for a single item)."""
    bits = 0
    v = 1
    while v < n:
        v *= 2
        bits += 1
    return bits


@jit
def intrablock_height(rows, keep, segment):
    """Rows of a column after IntraBlock keeps ``keep`` of every ``segment`` rows (last segment partial)."""
    if segment <= 0:
        return rows
    n_seg = ceil_div(rows, segment)
    last = rows - (n_seg - 1) * segment
    return (n_seg - 1) * keep + min(keep, last)


@jit
def blocked_height(rows, keep, segment, period):
    """Rows of a column after IntraBlock when its segments restart every ``period`` rows (inside each
    FullBlock block, full-first order); ``period`` 0: the segments run down the whole column."""
    if segment <= 0:
        return rows
    if period <= 0:
        return intrablock_height(rows, keep, segment)
    q = rows // period
    return q * intrablock_height(period, keep, segment) + intrablock_height(rows - q * period, keep, segment)


@jit
def popcount(bits):
    """Ones in a non-negative integer."""
    n = 0
    while bits > 0:
        n += bits & 1
        bits >>= 1
    return n


@jit
def intrablock_index_bits(stored, keep, fanin, mask_bits):
    """Bits that say where IntraBlock's kept weights came from: each stored slot's position among the
    ``fanin`` inputs its multiplexer selects from or, with a mask set (``mask_bits`` >= 0 bits to number a
    mask), one mask number per ``keep`` slots, whichever is smaller."""
    per_slot = stored * log2_ceil(fanin)
    if mask_bits >= 0:
        return min(per_slot, stored / keep * mask_bits)
    return per_slot



@jit
def wrapped_lattice(mean, var, u, probs):
    """Distribution of S mod u (into ``probs``) and E[ceil(S/u)] for a non-negative integer S of given mean
    and variance: two neighbouring integers when the variance is below what they can carry (this keeps
    the mean exact), a discretised normal otherwise."""
    for o in range(u):
        probs[o] = 0.0
    base = math.floor(mean)
    frac = mean - base
    if var <= frac * (1.0 - frac) + 1e-9:
        lo_v = int(base)
        probs[lo_v % u] += 1.0 - frac
        probs[(lo_v + 1) % u] += frac
        return (1.0 - frac) * ceil_div(lo_v, u) + frac * ceil_div(lo_v + 1, u)
    sd = math.sqrt(var)
    if sd > 4.0 * u:  # much wider than the modulus: the remainder is uniform
        for o in range(u):
            probs[o] = 1.0 / u
        tail = 0.0
        for o in range(1, u):
            tail += (u - o) / u
        return (mean + tail) / u
    lo = max(0, int(math.floor(mean - 9.0 * sd)))
    hi = int(math.ceil(mean + 9.0 * sd))
    # Centre the lattice so that its mean is the target mean (a plain discretised normal drifts).
    centre = mean
    for _ in range(8):
        total = 0.0
        first = 0.0
        for v in range(lo, hi + 1):
            w = math.exp(-0.5 * (v - centre) ** 2 / var)
            total += w
            first += w * v
        drift = mean - first / total
        centre += drift
        if abs(drift) < 1e-12:
            break
    total = 0.0
    e_ceil = 0.0
    for v in range(lo, hi + 1):
        w = math.exp(-0.5 * (v - centre) ** 2 / var)
        probs[v % u] += w
        e_ceil += w * ceil_div(v, u)
        total += w
    for o in range(u):
        probs[o] /= total
    return e_ceil / total


@jit
def sublattice(mean, var, u, d, probs, scratch):
    """:func:`wrapped_lattice` for a count that only takes multiples of ``d`` (a divisor of ``u``): tiles
    that all cut into, say, 6 pieces on 4-piece macros only ever start at fill offsets 0 and 2. The count
    over ``d`` is spread on ``u // d`` offsets and put back on the multiples of ``d``."""
    if d <= 1:
        return wrapped_lattice(mean, var, u, probs)
    e_ceil = wrapped_lattice(mean / d, var / (d * d), u // d, scratch)
    for o in range(u):
        probs[o] = 0.0
    for k in range(u // d):
        probs[k * d] = scratch[k]
    return e_ceil


EXACT_SLICE_WORK = 200_000  # steps of the exact fill-offset recursion below which it replaces the normal
EXACT_SLICE_KEPT = 64  # ... and kept blocks per group


@jit
def _exact_slice_work(groups, n_tiles, n_rows, n_blocks, n_kept, u):
    """Steps of :func:`_exact_slice`, roughly: per tile, the kept counts so far and the tile's own count each
    spread over a few standard deviations of their hypergeometric laws, times the offsets."""
    p = n_kept / n_blocks
    sd_tile = math.sqrt(n_rows * p * (1.0 - p))
    sd_seen = math.sqrt(n_tiles * n_rows * p * (1.0 - p))
    return groups * n_tiles * u * 2.0 * (12.0 * sd_tile + 1.0) * (12.0 * sd_seen + 1.0)


@jit
def _one_column_per_tile(c_of, n_tiles, tile_len, block, run):
    """Whether every tile lies in one block column and no two tiles share one (consecutive blocks)."""
    if run < block:
        return False
    for j in range(n_tiles):
        if c_of[j] != 1:
            return False
        if j > 0 and (j * tile_len) // block == ((j - 1) * tile_len) // block:
            return False
    return True


@jit
def _exact_slice(groups, n_tiles, w_of, n_rows, n_blocks, n_kept, bm, short, piece, u, mean_p, tile_slot):
    """(E[T], E[span] per group, width-weighted E[span] per group) of sliced tiles that each hold a block
    column of their own, exactly. Within a group, tile j holds l of the kept blocks with probability
    C(n_rows, l) C(B - (j+1) n_rows, left - l) / C(B - j n_rows, left) given ``left`` kept blocks not yet
    seen (as in :func:`_kept_block_rows_exact`); its pieces are ceil(K / piece) with K = bm l, less
    ``short`` when its last block row is kept (probability l / n_rows); the state is (kept so far, fill
    offset mod u). Groups are independent draws and pass on their last offset."""
    start = np.zeros(u)
    start[0] = 1.0
    cur = np.zeros((n_kept + 1, u))
    nxt = np.zeros((n_kept + 1, u))
    hpmf = np.zeros(n_rows + 1)
    span_sum = 0.0
    span_sum_w = 0.0
    mean_s = 0.0
    for _ in range(groups):
        for s in range(n_kept + 1):
            for o in range(u):
                cur[s, o] = 0.0
        for o in range(u):
            cur[0, o] = start[o]
        for j in range(n_tiles):
            mean_s += mean_p[tile_slot[j]]
            unseen = n_blocks - j * n_rows
            for s in range(n_kept + 1):
                for o in range(u):
                    nxt[s, o] = 0.0
            span_j = 0.0
            for s in range(min(n_kept, j * n_rows) + 1):
                left = n_kept - s
                mass = 0.0
                for o in range(u):
                    mass += cur[s, o]
                if left > unseen or mass < _TINY:
                    continue
                # l of the ``left`` kept among the ``unseen`` blocks fall in this tile's n_rows: hypergeometric,
                # summed from its mode outwards (O(standard deviation) terms)
                first, last = _hypergeometric(hpmf, float(unseen), float(left), float(n_rows),
                                              max(0, n_rows - (unseen - left)), min(n_rows, left))
                for l in range(first, last + 1):
                    pl = hpmf[l]
                    for branch in range(2):
                        p_last = l / n_rows
                        pb = pl * p_last if branch == 0 else pl * (1.0 - p_last)
                        if pb < _TINY:
                            continue
                        p = ceil_div(bm * l - short if branch == 0 else bm * l, piece)
                        for o in range(u):
                            w = cur[s, o] * pb
                            if w < _TINY:
                                continue
                            if p > 0:
                                span_j += w * ceil_div(o + p, u)
                            nxt[s + l, (o + p) % u] += w
            for s in range(n_kept + 1):
                for o in range(u):
                    cur[s, o] = nxt[s, o]
            span_sum += span_j
            span_sum_w += w_of[j] * span_j
        for o in range(u):
            start[o] = 0.0
        for s in range(n_kept + 1):
            for o in range(u):
                start[o] += cur[s, o]
    pad = 0.0  # E[(u - S mod u) mod u]: the empty slots of the last macro
    for o in range(1, u):
        pad += start[o] * (u - o)
    return (mean_s + pad) / u, span_sum / groups, span_sum_w / groups


@jit
def expected_span(offset_probs, pieces_pmf, n_pieces, u):
    """E[macros touched by a run of p pieces starting at fill offset o], p and o independent."""
    span = 0.0
    for o in range(u):
        po = offset_probs[o]
        if po < _TINY:
            continue
        for p in range(1, n_pieces + 1):
            pr = pieces_pmf[p]
            if pr < _TINY:
                continue
            span += po * pr * ceil_div(o + p, u)
    return span


@jit
def _axis_tiles(n_tiles, tile_len, length, block, run, n_blocks):
    """Blocks that intersect each tile of ``tile_len`` along an axis of ``length``. A block is ``block``
    consecutive positions, or, when ``run`` < ``block``, runs of ``run`` positions taking turns: position
    p is in block (p // run) mod n_blocks (an input channel's rows when the flattening order does not put
    C outermost, docs/sparsity.md)."""
    c = np.empty(n_tiles, dtype=np.int64)
    w = np.empty(n_tiles, dtype=np.int64)
    for j in range(n_tiles):
        start = j * tile_len
        end = min(length, start + tile_len)
        w[j] = end - start
        if run < block:
            c[j] = min(n_blocks, (end - 1) // run - start // run + 1)
        else:
            c[j] = (end - 1) // block - start // block + 1
    return c, w


@jit
def shared_blocks(start_a, c_a, start_b, c_b, block, run, n_blocks):
    """How many blocks two tiles starting at ``start_a`` and ``start_b`` (meeting ``c_a`` and ``c_b`` blocks,
    :func:`_axis_tiles`) both meet. Consecutive blocks: the overlap of two intervals of block numbers.
    Interleaved runs: blocks are met in turn from ``(start // run) mod n_blocks``, so each tile meets a
    cyclic interval of them; the overlap is summed over the (at most two) straight pieces of each."""
    if run >= block:
        lo = max(start_a // block, start_b // block)
        hi = min(start_a // block + c_a, start_b // block + c_b)
        return max(0, hi - lo)
    a0 = (start_a // run) % n_blocks
    b0 = (start_b // run) % n_blocks
    total = 0
    for pa in range(2):
        a_lo = a0 if pa == 0 else 0
        a_hi = min(n_blocks, a0 + c_a) if pa == 0 else max(0, a0 + c_a - n_blocks)
        for pb in range(2):
            b_lo = b0 if pb == 0 else 0
            b_hi = min(n_blocks, b0 + c_b) if pb == 0 else max(0, b0 + c_b - n_blocks)
            total += max(0, min(a_hi, b_hi) - max(a_lo, b_lo))
    return total


@jit
def block_of(position, block, run, n_blocks):
    """The block holding ``position`` (see :func:`_axis_tiles`)."""
    if run < block:
        return (position // run) % n_blocks
    return position // block


@jit
def _fill_common(out, tiles, row_tiles, col_tiles, stored, fetch, psum, out_nz, idx_read, idx_store,
                 mux_cells, mux_levels, crit_rows, reason):
    out[S_TILES] = tiles
    out[S_ROW_TILES] = row_tiles
    out[S_COL_TILES] = col_tiles
    out[S_STORED] = stored
    out[S_FETCH] = fetch
    out[S_PSUM] = psum
    out[S_OUT_NZ] = out_nz
    out[S_IDX_READ] = idx_read
    out[S_IDX_STORE] = idx_store
    out[S_MUX_CELLS] = mux_cells
    out[S_MUX_LEVELS] = mux_levels
    out[S_CRIT_ROWS] = crit_rows
    out[S_REASON] = reason
    out[S_F_ENERGY] = math.nan  # no measured input profile
    out[S_F_CRIT] = math.nan
    out[S_BIT_ONES] = math.nan


@jit
def group_pack(rows, cols, array_rows, array_cols):
    """Groups placed block-diagonally in one array when one group's matrix fits it (depthwise convs)."""
    if rows <= array_rows and cols <= array_cols:
        return max(1, min(array_rows // rows, array_cols // cols))
    return 1


@jit
def packed_tiles(groups, pack, p_empty):
    """Arrays holding ``groups`` packed ``pack`` at a time, an array being needed unless all its groups are empty."""
    full = groups // pack
    rem = groups - full * pack
    t = full * (1.0 - p_empty**pack)
    if rem > 0:
        t += 1.0 - p_empty**rem
    return t


@jit
def dense_tile_stats(rows, cols, groups, array_rows, array_cols, out):
    """Statistics of the dense matrix: nothing compressed, no index, no multiplexer."""
    pack = group_pack(rows, cols, array_rows, array_cols)
    tr = ceil_div(rows, array_rows)
    tc = ceil_div(cols, array_cols)
    if pack > 1:
        tiles = float(ceil_div(groups, pack))
        col_tiles = tiles
        row_tiles = 1.0
    else:
        tiles = float(groups * tr * tc)
        col_tiles = float(groups * tc)
        row_tiles = float(tr)
    _fill_common(out, tiles, row_tiles, col_tiles,
                 float(groups * rows * cols), float(groups * rows * tc), float(groups * cols * tr),
                 float(groups * cols), 0.0, 0.0, 0.0, 0.0, float(min(array_rows, pack * rows)), REASON_OK)


@jit
def _needs_counting(dense_rows, cols, groups, array_rows, array_cols, sub_rows, sub_cols, ib_segment, compress,
                    out):
    """Clear ``out`` and settle what every counting rule shares: sub-arrays that do not divide the array
    and IntraBlock without row compression are infeasible, an uncompressed layer has the dense
    statistics. True when the caller has tiles to count."""
    for i in range(N_STATS):
        out[i] = 0.0
    if array_rows % sub_rows != 0 or array_cols % sub_cols != 0:
        out[S_REASON] = REASON_SUBARRAY_MISMATCH
        return False
    if compress == COMPRESS_NONE:
        dense_tile_stats(dense_rows, cols, groups, array_rows, array_cols, out)
        return False
    if ib_segment > 0 and compress != COMPRESS_ROW:
        out[S_REASON] = REASON_COMPRESSION_UNSUPPORTED
        return False
    return True


@jit
def _one_draw_slots(c_of, n_tiles, max_c, nb_comp, n_blocks, n_kept, bm, short, cap, piece, n_pieces, tile_slot):
    """Moments per distinct number c of blocks a tile sees along its width, for one FullBlock draw: the law
    of L (block rows holding a kept block) gives K = bm L, less ``short`` when the last block row is kept.
    Returns (slots, E[ceil(K/cap)], E[K], P(K = 0), E[L], law of ceil(K/piece), its mean and variance,
    Cov[pieces, L], Var[L]); ``tile_slot[j]`` receives tile j's slot."""
    slot = np.full(max_c + 1, -1, dtype=np.int64)
    n_slots = 0
    for j in range(n_tiles):
        if slot[c_of[j]] < 0:
            slot[c_of[j]] = n_slots
            n_slots += 1
    e_ceil = np.zeros(n_slots)  # E[ceil(K/cap)]
    e_k = np.zeros(n_slots)  # E[K]
    p_zero = np.zeros(n_slots)  # P(K = 0)
    e_l = np.zeros(n_slots)  # E[L]
    pieces = np.zeros((n_slots, n_pieces + 1))  # pmf of ceil(K/piece)
    mean_p = np.zeros(n_slots)  # E[pieces], Var[pieces], Cov[pieces, L], Var[L]
    var_p = np.zeros(n_slots)
    cov_pl = np.zeros(n_slots)
    var_l = np.zeros(n_slots)
    pmf = np.empty(nb_comp + 1)
    done = np.zeros(n_slots, dtype=np.bool_)
    for j in range(n_tiles):
        s = slot[c_of[j]]
        tile_slot[j] = s
        if done[s]:
            continue
        done[s] = True
        kept_block_rows_pmf(nb_comp, n_blocks, n_kept, c_of[j], pmf)
        for l in range(nb_comp + 1):
            w = pmf[l]
            if w < _TINY:
                continue
            p_last = l / nb_comp
            e_l[s] += w * l
            for branch in range(2):
                pb = w * p_last if branch == 0 else w * (1.0 - p_last)
                if pb <= 0.0:
                    continue
                k = bm * l - short if branch == 0 else bm * l
                e_k[s] += pb * k
                e_ceil[s] += pb * ceil_div(k, cap)
                if k == 0:
                    p_zero[s] += pb
                pk = ceil_div(k, piece)
                pieces[s, pk] += pb
                mean_p[s] += pb * pk
                var_p[s] += pb * pk * pk
                cov_pl[s] += pb * pk * l
                var_l[s] += pb * l * l
        var_p[s] -= mean_p[s] ** 2
        cov_pl[s] -= mean_p[s] * e_l[s]
        var_l[s] -= e_l[s] ** 2

    return n_slots, e_ceil, e_k, p_zero, e_l, pieces, mean_p, var_p, cov_pl, var_l


@jit
def expected_tile_stats(rows, cols, groups, array_rows, array_cols, sub_rows, sub_cols,
                        block_rows, block_cols, ratio, has_fullblock, ib_keep, ib_segment, ib_period, ib_fanin,
                        ib_used, ib_mask_bits, index_unit, compress, rearrange, index_format, first_rows,
                        first_cols, first_ratio, out):
    """Expected tile statistics of a layer whose groups are ``rows x cols`` matrices pruned at random.

    FullBlock (``has_fullblock``): blocks of ``block_rows x block_cols`` (clipped to the matrix), of which
    floor((1-ratio)*blocks) are kept. IntraBlock (``ib_segment > 0``): ``ib_keep`` of every ``ib_segment``
    rows per column, its segments restarting every ``ib_period`` rows (0: never); FullBlock acts on that
    slot matrix, so ``block_rows`` counts slots. A slot's multiplexer selects from ``ib_fanin`` inputs,
    ``ib_used`` inputs of a segment are ever selected, ``ib_mask_bits`` number a mask of the set (-1: no
    set). ``index_unit`` is the number of consecutive rows one block index covers (the flattening order
    decides it). ``first_rows`` > 0: a first stage of ``first_rows x first_cols`` blocks at ``first_ratio``
    before the FullBlock pattern, which draws among the blocks still holding a weight
    (:mod:`kernels.nested_stats`; indexed at the finer of the two blocks, as masks are counted).
    """
    if not _needs_counting(rows, cols, groups, array_rows, array_cols, sub_rows, sub_cols, ib_segment, compress,
                           out):
        return
    has_ib = ib_segment > 0
    height = blocked_height(rows, ib_keep, ib_segment, ib_period) if has_ib else rows
    fetch_factor = ib_used / ib_keep if has_ib else 1.0
    mux_levels = log2_ceil(ib_fanin) if has_ib else 0
    pack = group_pack(rows, cols, array_rows, array_cols)

    # Matrix seen by the compression: ``comp_len`` along the squeezed axis, tiled along the other.
    if compress == COMPRESS_ROW:
        comp_len, other_len, tile_len, cap, piece = height, cols, array_cols, array_rows, sub_rows
        bm = min(block_rows, height) if has_fullblock else 1
        bn = min(block_cols, cols) if has_fullblock else 1
    else:
        comp_len, other_len, tile_len, cap, piece = cols, height, array_rows, array_cols, sub_cols
        bm = min(block_cols, cols) if has_fullblock else 1
        bn = min(block_rows, height) if has_fullblock else 1
    r = ratio if has_fullblock else 0.0
    nb_comp = ceil_div(comp_len, bm)  # blocks along the squeezed axis
    nb_other = ceil_div(other_len, bn)
    n_blocks = nb_comp * nb_other
    n_kept = kept_blocks(r, n_blocks)
    short = bm * nb_comp - comp_len  # rows missing from the last (partial) block
    n_tiles = ceil_div(other_len, tile_len)
    # Along the tiled axis a block may be interleaved runs (channel blocks under column compression).
    run = index_unit if compress == COMPRESS_COL else bn
    c_of, w_of = _axis_tiles(n_tiles, tile_len, other_len, bn, run, nb_other)
    u = cap // piece
    n_pieces = ceil_div(comp_len, piece)
    max_c = 0
    for j in range(n_tiles):
        max_c = max(max_c, c_of[j])
    tile_slot = np.empty(n_tiles, dtype=np.int64)
    nested = first_rows > 0 and has_fullblock
    if nested:
        # A draw inside a draw: the first stage's blocks along the compressed axis x the tiled one.
        if compress == COMPRESS_ROW:
            first_h, first_w = min(first_rows, comp_len), min(first_cols, other_len)
        else:
            first_h, first_w = min(first_cols, comp_len), min(first_rows, other_len)
        fine = min(first_h, bm)
        if max(first_h, bm) >= comp_len:  # one block spans the axis: it nests whatever the other's height
            if first_h > bm:
                first_h = ceil_div(comp_len, fine) * fine
            elif bm > first_h:
                bm = ceil_div(comp_len, fine) * fine
        if index_unit < min(block_rows, height) or max(first_h, bm) % fine != 0:
            # blocks that do not nest along the compressed axis (or channels the flattening order interleaves)
            out[S_REASON] = REASON_FIRST_BLOCKS_EXPECTED
            return
        (n_slots, e_ceil, e_k, p_zero, e_l, pieces, mean_p, var_p, cov_pl, var_l, alive, cov_rows, cov_w, n_blocks,
         n_kept, fine_cov, branches) = nested_slots(comp_len, other_len, tile_len, cap, piece, first_h, first_w,
                                                    first_ratio, bm, bn, r, tile_slot)
        # sliced tiles covary through the coarse stage's fixed count, as one draw's tiles through theirs
        bn = cov_w
        run = cov_w
        nb_other = ceil_div(other_len, cov_w)
        c_of, w_of = _axis_tiles(n_tiles, tile_len, other_len, bn, run, nb_other)
        max_c = 0
        for j in range(n_tiles):
            max_c = max(max_c, c_of[j])
        # indexed as the masks are counted: at the finer of the two blocks (ciminus.sparsity.montecarlo)
        index_unit = min(index_unit, first_rows)
        bm = fine
        nb_comp = ceil_div(comp_len, bm)
    else:
        n_slots, e_ceil, e_k, p_zero, e_l, pieces, mean_p, var_p, cov_pl, var_l = _one_draw_slots(
            c_of, n_tiles, max_c, nb_comp, n_blocks, n_kept, bm, short, cap, piece, n_pieces, tile_slot)
        alive = 0.0
        cov_rows = nb_comp
        fine_cov = np.zeros((n_slots, n_slots))
        branches = np.zeros((1, 1, 1))

    sum_ceil = 0.0
    sum_ceil_w = 0.0
    sum_k = 0.0
    sum_k_w = 0.0
    sum_nz_w = 0.0
    sum_l = 0.0
    for j in range(n_tiles):
        s = tile_slot[j]
        sum_ceil += e_ceil[s]
        sum_ceil_w += w_of[j] * e_ceil[s]
        sum_k += e_k[s]
        sum_k_w += w_of[j] * e_k[s]
        sum_nz_w += w_of[j] * (1.0 - p_zero[s])
        sum_l += e_l[s]

    g = float(groups)
    if pack > 1:
        tiles = packed_tiles(groups, pack, p_zero[tile_slot[0]])
        span_sum = sum_ceil
        span_sum_w = sum_ceil_w
    elif rearrange == REARRANGE_SLICE and u > 1 and not nested and n_kept <= EXACT_SLICE_KEPT and (
            _one_column_per_tile(c_of, n_tiles, tile_len, bn, run)) and (
            _exact_slice_work(groups, n_tiles, nb_comp, n_blocks, n_kept, u) <= EXACT_SLICE_WORK):
        # Every tile holds one block column of its own, and few blocks are kept (where what one tile keeps
        # decides most of what the others can): the fill offsets follow exactly from the kept blocks, tile
        # after tile (the same recursion as the law of L, one level up).
        tiles, span_sum, span_sum_w = _exact_slice(groups, n_tiles, w_of, nb_comp, n_blocks, n_kept, bm, short,
                                                   piece, u, mean_p, tile_slot)
    elif rearrange == REARRANGE_SLICE and u > 1:
        # Pieces of every tile are packed back to back, group after group. The fill offset before a
        # tile is the running piece count mod u; that count is modelled as a discretised normal whose
        # variance keeps the negative covariance a fixed number of kept blocks puts between tiles.
        kappa = 0.0
        if n_blocks > 1:
            kappa = -(cov_rows**2) * n_kept * (n_blocks - n_kept) / (n_blocks**2 * (n_blocks - 1.0))
        beta = np.zeros(n_slots)
        for s_ in range(n_slots):
            if var_l[s_] > 1e-12:
                beta[s_] = cov_pl[s_] / var_l[s_]
        col_sum = np.zeros(nb_other)
        by_width = np.zeros(max_c + 1)  # sum of beta over the group's earlier tiles, by their block count c
        by_slot = np.zeros(n_slots)  # the group's earlier tiles, by slot
        z_of = np.zeros(2 * max_c + 1)  # P(n given blocks all pruned)
        for n_ in range(2 * max_c + 1):
            z_of[n_] = all_zero_probability(n_blocks, n_kept, n_)
        offset = np.empty(u)
        scratch = np.empty(u)
        # The running count only takes multiples of the gcd of u and every piece count a tile can have.
        step = u
        for s_ in range(n_slots):
            for pk in range(1, n_pieces + 1):
                if pieces[s_, pk] >= _TINY:
                    step = math.gcd(step, pk)
        span_sum = 0.0
        span_sum_w = 0.0
        mean_run = 0.0
        var_run = 0.0
        for _ in range(groups):
            for b_ in range(nb_other):
                col_sum[b_] = 0.0
            for c_ in range(max_c + 1):
                by_width[c_] = 0.0
            for s_ in range(n_slots):
                by_slot[s_] = 0.0
            tot = 0.0
            for j in range(n_tiles):
                s_ = tile_slot[j]
                cj = c_of[j]
                sublattice(mean_run, var_run, u, step, offset, scratch)
                sp = expected_span(offset, pieces[s_], n_pieces, u)
                span_sum += sp
                span_sum_w += w_of[j] * sp
                cov = 0.0
                if cj == 1:
                    col = block_of(j * tile_len, bn, run, nb_other)
                    cov = beta[s_] * (col_sum[col] * var_l[s_] + (tot - col_sum[col]) * kappa)
                    col_sum[col] += beta[s_]
                    tot += beta[s_]
                # a tile wider than a block against any earlier tile (their blocks apart): the block rows
                # hit in each are negatively correlated through the fixed number kept,
                # Cov(L_i, L_j) = rows^2 (z(c_i + c_j) - z(c_i) z(c_j))
                for ci in range(1, max_c + 1):
                    if by_width[ci] != 0.0 and (ci > 1 or cj > 1):
                        cov += beta[s_] * by_width[ci] * cov_rows * cov_rows * (z_of[ci + cj] - z_of[ci] * z_of[cj])
                # ... unless the two tiles share blocks (a block across their boundary, or channels whose rows
                # the flattening order interleaves): then a block row holds the same s blocks for both, and
                # Cov(L_i, L_j) gains rows * (z(c_i + c_j - s) - z(c_i + c_j)). (Only pairs with a tile wider
                # than one block: two one-block tiles in the same block column have Var(L) above.)
                last = j - 1 if max_c > 1 else -1
                for i in range(last, -1, -1):
                    ci = c_of[i]
                    shared = shared_blocks(i * tile_len, ci, j * tile_len, cj, bn, run, nb_other)
                    if shared == 0:
                        if run >= bn:
                            break  # consecutive blocks: tiles further back share none either
                        continue
                    if ci > 1 or cj > 1:
                        cov += beta[s_] * beta[tile_slot[i]] * cov_rows * (z_of[ci + cj - shared] - z_of[ci + cj])
                by_width[cj] += beta[s_]
                if nested:  # ... and through the fine stage's fixed count (kernels.nested_stats)
                    for a_ in range(n_slots):
                        cov += by_slot[a_] * fine_cov[a_, s_]
                    by_slot[s_] += 1.0
                mean_run += mean_p[s_]
                var_run = max(0.0, var_run + var_p[s_] + 2.0 * cov)
        tiles = sublattice(mean_run, var_run, u, step, offset, scratch)
        span_sum /= g
        span_sum_w /= g
        if nested and branches.shape[1] > 1 and (
                sliced_by_branch_work(groups, n_tiles, n_pieces, branches.shape[1]) <= NESTED_SLICE_WORK):
            # the tiles share every coarse block: their piece counts, per branch of the coarse draw
            tiles, span_sum, span_sum_w = sliced_by_branch(groups, n_tiles, tile_slot, w_of, branches, n_pieces, u)
        elif nested and sliced_sum_work(groups, n_tiles, n_pieces) <= NESTED_SLICE_WORK:
            tiles, span_sum, span_sum_w = sliced_sum(groups, n_tiles, tile_slot, w_of, pieces, n_pieces, u, var_run)
    else:
        tiles = g * sum_ceil
        span_sum = sum_ceil
        span_sum_w = sum_ceil_w

    # Index bits: coordinates of kept blocks, or a bitmap of all of them, whichever is asked (or smaller).
    idx_read = 0.0
    if has_fullblock:
        if compress == COMPRESS_ROW:
            unit = max(1, min(index_unit, bm))
            entries_per_block = ceil_div(bm, unit)
            units = ceil_div(comp_len, unit)
        else:
            entries_per_block = 1
            units = nb_comp
        coord = g * sum_l * entries_per_block * max(1, log2_ceil(max(2, units)))
        bitmap = g * n_tiles * units
        if index_format == INDEX_BITMAP or (index_format == INDEX_AUTO and bitmap < coord):
            idx_read = bitmap
        else:
            idx_read = coord

    if compress == COMPRESS_ROW:
        col_tiles = g * n_tiles if pack == 1 else float(ceil_div(groups, pack))
        row_tiles = tiles / col_tiles
        stored = g * sum_k_w
        fetch = g * sum_k * fetch_factor
        psum = g * span_sum_w
        out_nz = g * sum_nz_w
        crit = min(array_rows, pack * height) * fetch_factor
    else:
        row_tiles = float(n_tiles)
        col_tiles = tiles / row_tiles if pack == 1 else float(ceil_div(groups, pack))
        if pack > 1:
            row_tiles = tiles / col_tiles
        stored = g * sum_k_w
        fetch = g * span_sum_w
        psum = g * sum_k
        # An output is dead only if its whole block column was pruned (nested: no kept weight in any row).
        if nested:
            out_nz = g * alive
        else:
            out_nz = g * cols * (1.0 - all_zero_probability(n_blocks, n_kept, nb_other))
        crit = float(min(array_rows, pack * height))
    if tiles <= 0.0:
        row_tiles = 0.0
    idx_store = idx_read + (intrablock_index_bits(stored, ib_keep, ib_fanin, ib_mask_bits) if has_ib else 0.0)
    _fill_common(out, tiles, row_tiles, col_tiles, stored, fetch, psum, out_nz, idx_read, idx_store,
                 stored if has_ib else 0.0, float(mux_levels), crit, REASON_OK)


@jit
def mask_tile_stats(masks, dense_rows, array_rows, array_cols, sub_rows, sub_cols, block_rows, block_cols,
                    has_fullblock, ib_keep, ib_segment, ib_fanin, ib_used, ib_mask_bits, index_unit, compress,
                    rearrange, index_format, out):
    """Exact tile statistics of given masks, ``masks[g, i, j] != 0`` where group g keeps weight slot (i, j).

    ``dense_rows`` is a group's row count before IntraBlock compression (it decides group packing).
    The same counting rules as :func:`expected_tile_stats`, applied to one concrete zero pattern:
    sliced pieces are packed back to back in tile order, block indices cover ``block_rows`` (row
    compression, in units of ``index_unit`` flattened rows) or ``block_cols`` (column compression).
    """
    groups = masks.shape[0]
    height = masks.shape[1]
    cols = masks.shape[2]
    if not _needs_counting(dense_rows, cols, groups, array_rows, array_cols, sub_rows, sub_cols, ib_segment,
                           compress, out):
        return
    has_ib = ib_segment > 0
    fetch_factor = ib_used / ib_keep if has_ib else 1.0
    mux_levels = log2_ceil(ib_fanin) if has_ib else 0
    # Packing is decided on the dense shape of a group, like the expectation does.
    pack = group_pack(dense_rows, cols, array_rows, array_cols)
    if compress == COMPRESS_ROW:
        comp_len, other_len, tile_len, cap, piece = height, cols, array_cols, array_rows, sub_rows
        bm = min(block_rows, height) if has_fullblock else 1
        unit = max(1, min(index_unit, bm))
        units = ceil_div(comp_len, unit)
        entry_len = unit
    else:
        comp_len, other_len, tile_len, cap, piece = cols, height, array_rows, array_cols, sub_cols
        bm = min(block_cols, cols) if has_fullblock else 1
        units = ceil_div(comp_len, bm)
        entry_len = bm
    n_tiles = ceil_div(other_len, tile_len)
    u = cap // piece

    kept = np.zeros(comp_len, dtype=np.bool_)
    unit_hit = np.zeros(units, dtype=np.bool_)
    tiles = 0.0
    stored = 0.0
    fetch = 0.0
    psum = 0.0
    out_nz = 0.0
    entries = 0.0
    total_pieces = 0
    offset = 0
    packs = 0.0
    current = 0.0
    for g in range(groups):
        group_nonempty = False
        for j in range(n_tiles):
            start = j * tile_len
            end = min(other_len, start + tile_len)
            width = end - start
            for a in range(comp_len):
                kept[a] = False
            for a in range(units):
                unit_hit[a] = False
            k = 0
            for a in range(comp_len):
                hit = False
                for b in range(start, end):
                    v = masks[g, a, b] if compress == COMPRESS_ROW else masks[g, b, a]
                    if v != 0:
                        hit = True
                        break
                if hit:
                    kept[a] = True
                    k += 1
                    unit_hit[a // entry_len] = True
            n_entries = 0
            for a in range(units):
                if unit_hit[a]:
                    n_entries += 1
            entries += n_entries
            if k > 0:
                group_nonempty = True
            pad_tiles = ceil_div(k, cap)
            if pack > 1:
                span = pad_tiles
            elif rearrange == REARRANGE_SLICE and u > 1:
                p = ceil_div(k, piece)
                span = ceil_div(offset + p, u) if p > 0 else 0
                offset = (offset + p) % u
                total_pieces += p
            else:
                span = pad_tiles
                tiles += pad_tiles
            stored += width * k
            if compress == COMPRESS_ROW:
                fetch += k * fetch_factor
                psum += width * span
                if k > 0:
                    out_nz += width
            else:
                fetch += width * span
                psum += k
        if compress == COMPRESS_COL:
            for b in range(cols):
                alive = False
                for a in range(height):
                    if masks[g, a, b] != 0:
                        alive = True
                        break
                if alive:
                    out_nz += 1
        if pack > 1:
            # Groups fill packs in order; a pack needs an array if any of its groups kept a weight.
            if g % pack == 0:
                current = 0.0
            if group_nonempty:
                current = 1.0
            if g % pack == pack - 1 or g == groups - 1:
                packs += current
    if pack > 1:
        tiles = packs
    elif rearrange == REARRANGE_SLICE and u > 1:
        tiles = float(ceil_div(total_pieces, u))

    idx_read = 0.0
    if has_fullblock:
        coord = entries * max(1, log2_ceil(max(2, units)))
        bitmap = float(groups * n_tiles * units)
        if index_format == INDEX_BITMAP or (index_format == INDEX_AUTO and bitmap < coord):
            idx_read = bitmap
        else:
            idx_read = coord
    g = float(groups)
    if compress == COMPRESS_ROW:
        col_tiles = g * n_tiles if pack == 1 else float(ceil_div(groups, pack))
        crit = min(array_rows, pack * height) * fetch_factor
    else:
        col_tiles = tiles / n_tiles if pack == 1 else float(ceil_div(groups, pack))
        crit = float(min(array_rows, pack * height))
    row_tiles = tiles / col_tiles if tiles > 0 else 0.0
    idx_store = idx_read + (intrablock_index_bits(stored, ib_keep, ib_fanin, ib_mask_bits) if has_ib else 0.0)
    _fill_common(out, tiles, row_tiles, col_tiles, stored, fetch, psum, out_nz, idx_read, idx_store,
                 stored if has_ib else 0.0, float(mux_levels), crit, REASON_OK)


# ----- FlexBlock of a layer, and stage 1 over a table of jobs ------------------------------------------
@jit
def sparsity_reason(pattern, ratio, nm_n, nm_m, mask_len, mask_ones):
    """Why a sparsity cannot be built (a ``REASON_*`` code; 0 when it can): an IntraBlock stage that keeps
    more than its segment, an ``nm`` ratio that is no whole k of m (0.9 with m = 4 is not 1:4), or an
    IntraBlock mask set (``mask_len`` > 0) whose masks are not ``nm_m`` long or keep another count."""
    ib = pattern == PATTERN_NM or pattern == PATTERN_HYBRID or pattern == PATTERN_FLEXBLOCK
    if (pattern == PATTERN_HYBRID or pattern == PATTERN_FLEXBLOCK) and nm_n > nm_m:
        return REASON_NM_N_OVER_M
    if pattern == PATTERN_NM:
        kept = (1.0 - ratio) * nm_m
        if abs(kept - round(kept)) > 1e-9 * nm_m or round(kept) < 1:
            return REASON_NM_RATIO
    if ib and mask_len > 0:
        keep = nm_keep(ratio, nm_m) if pattern == PATTERN_NM else nm_n
        if mask_len != nm_m or mask_ones != keep:
            return REASON_IB_MASKS
    return REASON_OK


@jit
def nm_keep(ratio, segment):
    """Non-zeros kept per segment for an ``nm`` pattern at ``ratio`` zeros (at least one; ties to even)."""
    return max(1, segment - int(round(ratio * segment)))


@jit
def block_side(sym, whole, kernel, array):
    """A FullBlock side: a size, or a ``SIZE_*`` symbol resolved against the matrix, kernel and array."""
    if sym == SIZE_ALL:
        return whole
    if sym == SIZE_KERNEL:
        return kernel
    if sym == SIZE_ARRAY:
        return array
    return sym


@jit
def intrablock_segment(pattern, nm_n, nm_m):
    """The IntraBlock segment m of a pattern (0: no IntraBlock stage, so no selection multiplexer)."""
    if pattern == PATTERN_NM:
        return nm_m
    if (pattern == PATTERN_HYBRID or pattern == PATTERN_FLEXBLOCK) and nm_n < nm_m:
        return nm_m
    return 0


@jit
def flexblock(pattern, ratio, user_rows, user_cols, nm_n, nm_m, rows, cols, kernel, channel_run, array_rows,
              array_cols, compress, stage_order, n_masks, mask_fanin, mask_used):
    """The FlexBlock of a layer as the hardware sees it: (block rows, block cols, ratio, IntraBlock keep,
    segment, period, fan-in, inputs used per segment, mask-number bits, index unit, compression). Block rows
    are counted in the IntraBlock slot matrix; 0 block rows means no FullBlock stage. ``stage_order``
    (``STAGES_*``) says which stage prunes first: full-first blocks are cut from the weights (default
    height nm_m rows) and squeezed by IntraBlock inside, so segments restart at every block (the period).
    A mask set (``n_masks`` > 0) narrows each slot's multiplexer to ``mask_fanin`` inputs, the segment
    positions ever kept to the bit set ``mask_used``, and the index to a mask number.
    The presets are those of ``docs/sparsity.md``."""
    if pattern == PATTERN_DENSE:
        return 0, 0, 0.0, 0, 0, 0, 0, 0, -1, 1, COMPRESS_NONE
    ib_segment = intrablock_segment(pattern, nm_n, nm_m)
    ib_keep = 0
    if pattern == PATTERN_NM:
        ib_keep = nm_keep(ratio, nm_m)
    elif ib_segment:
        ib_keep = nm_n
    ib_fanin = ib_segment
    ib_used = ib_segment
    ib_mask_bits = -1
    if ib_segment and n_masks > 0:
        ib_fanin = mask_fanin
        ib_used = popcount(int(mask_used))
        ib_mask_bits = log2_ceil(n_masks)
    natural = COMPRESS_COL if (pattern == PATTERN_COLUMN_WISE or pattern == PATTERN_COLUMN_BLOCK) else COMPRESS_ROW
    orient = natural if compress == COMPRESS_AUTO else compress
    if pattern == PATTERN_NM:
        return 0, 0, 0.0, ib_keep, ib_segment, 0, ib_fanin, ib_used, ib_mask_bits, 1, orient
    if ib_segment and stage_order == STAGES_FULL_FIRST:
        # FullBlock cuts blocks of the weights (block_rows counts weight rows), IntraBlock squeezes each.
        sym = nm_m if (pattern == PATTERN_HYBRID or user_rows == SIZE_DEFAULT) else user_rows
        period = min(rows, block_side(sym, rows, kernel, array_rows))
        sym_cols = SIZE_ARRAY if user_cols == SIZE_DEFAULT else user_cols
        bn = min(cols, block_side(sym_cols, cols, kernel, array_cols))
        bm = intrablock_height(period, ib_keep, ib_segment)
        return bm, bn, ratio, ib_keep, ib_segment, period, ib_fanin, ib_used, ib_mask_bits, bm, orient
    height = intrablock_height(rows, ib_keep, ib_segment) if ib_segment else rows
    # (rows symbol, cols symbol); a user key replaces a symbol only where the pattern reads it.
    sym_rows = 1
    sym_cols = 1
    if pattern == PATTERN_ROW_WISE:
        sym_cols = SIZE_ALL
    elif pattern == PATTERN_ROW_BLOCK or pattern == PATTERN_HYBRID:
        sym_cols = SIZE_ARRAY if user_cols == SIZE_DEFAULT else user_cols
    elif pattern == PATTERN_COLUMN_WISE:
        sym_rows = SIZE_ALL
    elif pattern == PATTERN_COLUMN_BLOCK:
        sym_rows = SIZE_ARRAY if user_rows == SIZE_DEFAULT else user_rows
    elif pattern == PATTERN_CHANNEL_WISE:
        sym_rows = SIZE_KERNEL
        sym_cols = SIZE_ALL
    elif pattern == PATTERN_FLEXBLOCK:
        sym_rows = 1 if user_rows == SIZE_DEFAULT else user_rows
        sym_cols = SIZE_ARRAY if user_cols == SIZE_DEFAULT else user_cols
    bm = min(height, block_side(sym_rows, height, kernel, array_rows))
    bn = min(cols, block_side(sym_cols, cols, kernel, array_cols))
    unit = channel_run if pattern == PATTERN_CHANNEL_WISE else bm
    return bm, bn, ratio, ib_keep, ib_segment, 0, ib_fanin, ib_used, ib_mask_bits, min(unit, bm), orient


@jit
def first_stage(first, ratio, rows, cols, kernel, channel_run):
    """What a first FullBlock stage of whole rows, input channels or columns (``FIRST_*``) at ``ratio`` leaves
    for the pattern: (rows, cols, kernel rows, channel run, blocks kept, blocks). Its blocks are whole, so
    the kept count is exact and the pattern sees a smaller dense matrix (docs/sparsity.md). Narrower blocks
    (``FIRST_BLOCKS``, :func:`first_blocks`) leave the whole matrix to the pattern, which prunes among the
    blocks they keep (:mod:`kernels.nested_stats`)."""
    if first == FIRST_ROWS:
        kept = kept_blocks(ratio, rows)
        return kept, cols, 1, 1, kept, rows
    if first == FIRST_CHANNELS:
        nb = ceil_div(rows, kernel)
        kept = kept_blocks(ratio, nb)
        return kept * kernel, cols, kernel, channel_run, kept, nb
    if first == FIRST_COLUMNS:
        kept = kept_blocks(ratio, cols)
        return rows, kept, kernel, channel_run, kept, cols
    return rows, cols, kernel, channel_run, 0, 0


@jit
def first_blocks(sym_rows, sym_cols, ratio, rows, cols, kernel, array_rows, array_cols):
    """A first stage of blocks narrower than the matrix (``FIRST_BLOCKS``): its blocks (``SIZE_*`` symbols or
    sizes, clipped to the matrix), how many it keeps, of how many: (block rows, block cols, kept, blocks)."""
    bm = min(rows, block_side(sym_rows, rows, kernel, array_rows))
    bn = min(cols, block_side(sym_cols, cols, kernel, array_cols))
    n = ceil_div(rows, bm) * ceil_div(cols, bn)
    return bm, bn, kept_blocks(ratio, n), n


@jit
def first_blocks_compress(block_rows, block_cols, rows, cols, orient):
    """How the only pruning, first blocks before the dense pattern, is compressed: as the mapping says, or
    (``COMPRESS_AUTO``) by columns when its blocks are whole columns, by rows otherwise."""
    if orient != COMPRESS_AUTO:
        return orient
    return COMPRESS_COL if block_rows == rows and block_cols < cols else COMPRESS_ROW


@jit
def first_blocks_reason(first, ib_segment):
    """Why a first stage of blocks narrower than the matrix (``FIRST_BLOCKS``) cannot be priced (a ``REASON_*``
    code; 0 when it can): with an IntraBlock stage after it the sparsity would have three stages. (Blocks
    that do not nest have no closed form: :func:`expected_tile_stats` says so.)"""
    if first == FIRST_BLOCKS and ib_segment > 0:
        return REASON_FIRST_BLOCKS_INTRABLOCK
    return REASON_OK


@jit
def add_first_stage(first, kept, blocks, groups, out):
    """The first stage's index into statistics ``out`` of what it left: one coordinate per kept row,
    channel or column per group, stored once and read per input vector by every tile whose rows (row and
    channel stages: each column tile) or columns (column stage: each row tile) it maps. A stage of narrower
    blocks adds none: the masks it prices are indexed at the finer of its and the pattern's blocks."""
    if first == FIRST_NONE or first == FIRST_BLOCKS:
        return
    bits = kept * max(1, log2_ceil(max(2, blocks)))
    readers = out[S_COL_TILES] if first != FIRST_COLUMNS else groups * out[S_ROW_TILES]
    if out[S_TILES] > 0.0:
        out[S_IDX_READ] += readers * bits
    out[S_IDX_STORE] += groups * bits


@jit
def share_intrablock(n, cols, tile_cols, out):
    """IntraBlock blocks of ``m x n``: ``n`` adjacent columns (of a group's ``cols``, from its first) keep the
    same mask, so the slots of one slot row in those columns take the same input through one multiplexer,
    and the mask's index is stored once for them. A shared group split by a tile boundary (``tile_cols``
    wide) needs a multiplexer and an index in each tile: multiplexers and IntraBlock index bits
    (``S_IDX_STORE`` beyond ``S_IDX_READ``, before a first stage adds its own) shrink by the mean columns
    per (group, tile) piece. Call only for a layer with an IntraBlock stage."""
    if n <= 1:
        return
    pieces = 0
    for start in range(0, cols, tile_cols):
        end = min(cols, start + tile_cols)
        pieces += (end - 1) // n - start // n + 1
    share = cols / pieces
    out[S_MUX_CELLS] /= share
    out[S_IDX_STORE] = out[S_IDX_READ] + (out[S_IDX_STORE] - out[S_IDX_READ]) / share


@jit
def pruned_whole(rows, cols):
    """The FlexBlock, as :func:`flexblock` gives it, of a layer whose first stage keeps nothing: one FullBlock
    of the whole ``rows x cols`` matrix, none of it kept."""
    return rows, cols, 0.5, 0, 0, 0, 0, 0, -1, rows, COMPRESS_ROW


@jit(inline=True)
def job_stats(job, out):
    """Sparse (``out[:N_STATS]``) and dense (``out[N_STATS:]``) statistics of one job (``JOB_*``), random
    masks in closed form. A run-time operand is never pruned: its sparse statistics are dense. Inlined into
    :func:`stats_rows`' loop (it is small): one compiled library fewer through which LLVM would optimise and
    emit the whole closed form again."""
    rows = int(job[JOB_ROWS])
    cols = int(job[JOB_COLS])
    groups = int(job[JOB_GROUPS])
    X = int(job[JOB_ARRAY_ROWS])
    Y = int(job[JOB_ARRAY_COLS])
    dense = np.zeros(N_STATS)
    dense_tile_stats(rows, cols, groups, X, Y, dense)
    sparse = np.zeros(N_STATS)
    if job[JOB_DYNAMIC] != 0.0:
        for k in range(N_STATS):
            sparse[k] = dense[k]
    else:
        first = int(job[JOB_FIRST])
        rows1, cols1, kernel1, run1, kept1, blocks1 = first_stage(first, job[JOB_FIRST_RATIO], rows, cols,
                                                                  int(job[JOB_KERNEL]), int(job[JOB_CHANNEL_RUN]))
        bm, bn, ratio, ib_keep, ib_segment, ib_period, ib_fanin, ib_used, ib_mask_bits, unit, compress = flexblock(
            int(job[JOB_PATTERN]), job[JOB_RATIO], int(job[JOB_BLOCK_ROWS]), int(job[JOB_BLOCK_COLS]),
            int(job[JOB_NM_N]), int(job[JOB_NM_M]), max(1, rows1), max(1, cols1), kernel1, run1, X, Y,
            int(job[JOB_COMPRESS]), int(job[JOB_STAGE_ORDER]), int(job[JOB_IB_MASKS]),
            int(job[JOB_IB_FANIN]), job[JOB_IB_USED])
        why = sparsity_reason(int(job[JOB_PATTERN]), job[JOB_RATIO], int(job[JOB_NM_N]),
                              int(job[JOB_NM_M]), int(job[JOB_IB_LEN]), int(job[JOB_IB_ONES]))
        rearrange = int(job[JOB_REARRANGE])
        first_rows = 0
        first_cols = 0
        if first == FIRST_BLOCKS and ib_segment == 0:  # (before an IntraBlock stage: unpriced, below)
            first_rows, first_cols, kept_first, _ = first_blocks(
                int(job[JOB_FIRST_BLOCK_ROWS]), int(job[JOB_FIRST_BLOCK_COLS]), job[JOB_FIRST_RATIO], rows, cols,
                int(job[JOB_KERNEL]), X, Y)
            if kept_first == 0:
                rows1 = 0  # nothing left: priced below as a fully pruned matrix
            elif bm == 0:  # the dense pattern: the first blocks are the only FullBlock stage
                bm, bn, ratio, unit = first_rows, first_cols, job[JOB_FIRST_RATIO], first_rows
                compress = first_blocks_compress(first_rows, first_cols, rows, cols, int(job[JOB_COMPRESS]))
                first_rows = 0
        if rows1 == 0 or cols1 == 0:
            # Assigned here rather than passed as constants, so that one compiled expected_tile_stats serves both.
            rows1 = rows
            cols1 = cols
            first_rows = 0
            bm, bn, ratio, ib_keep, ib_segment, ib_period, ib_fanin, ib_used, ib_mask_bits, unit, compress = (
                pruned_whole(rows, cols))
            rearrange = REARRANGE_PAD
        expected_tile_stats(rows1, cols1, groups, X, Y, int(job[JOB_SUB_ROWS]), int(job[JOB_SUB_COLS]), bm, bn,
                            ratio, bm > 0, ib_keep, ib_segment, ib_period, ib_fanin, ib_used, ib_mask_bits, unit,
                            compress, rearrange, int(job[JOB_INDEX_FORMAT]), first_rows, first_cols,
                            job[JOB_FIRST_RATIO], sparse)
        if ib_segment > 0:
            share_intrablock(int(job[JOB_IB_COLS]), cols1, Y, sparse)
        add_first_stage(first, kept1, blocks1, groups, sparse)
        unpriced = first_blocks_reason(first, ib_segment)
        if unpriced != REASON_OK:  # no statistics, as ciminus.sparsity.stats gives none
            for k in range(N_STATS):
                sparse[k] = 0.0
            sparse[S_REASON] = unpriced
        if why != REASON_OK:
            sparse[S_REASON] = why
    for k in range(N_STATS):
        out[k] = sparse[k]
        out[N_STATS + k] = dense[k]


@threaded
def stats_rows(lo, hi, jobs, out):
    """Stage 1: the statistics of rows ``lo .. hi-1`` of ``jobs`` into the same rows of ``out``
    (``ciminus.threads.in_threads`` runs disjoint ranges on every core)."""
    for i in range(lo, hi):
        job_stats(jobs[i], out[i])


@threaded
def move_rows(lo, hi, src, src_rows, dst, dst_rows):
    """``dst[dst_rows[i]] = src[src_rows[i]]`` for ``i`` in ``lo .. hi-1``: stage 1's gathers and scatters of
    whole rows, on every core through ``ciminus.threads`` (NumPy's fancy indexing copies them on one)."""
    for i in range(lo, hi):
        s = src_rows[i]
        d = dst_rows[i]
        for k in range(src.shape[1]):
            dst[d, k] = src[s, k]


_HASH_PRIME = 2147483647  # 2^31 - 1


@threaded
def row_hashes(lo, hi, bits, out):
    """A 62-bit hash of every row of ``bits`` (float rows viewed as uint64) into ``out``: the key that
    de-duplicates stage-1 jobs without sorting rows (equal rows, equal hashes; callers check the rest).
    Two polynomial hashes modulo 2^31 - 1 over 16-bit pieces: no product ever overflows an int64."""
    for i in range(lo, hi):
        h1 = 0
        h2 = 0
        for k in range(bits.shape[1]):
            v = bits[i, k]
            for q in range(4):
                piece = int((v >> np.uint64(16 * q)) & np.uint64(0xFFFF))
                h1 = (h1 * 1000003 + piece + 1) % _HASH_PRIME
                h2 = (h2 * 999983 + piece + 7) % _HASH_PRIME
        out[i] = h1 * 2147483648 + h2


@threaded
def rows_differ(lo, hi, bits, first, inverse, out):
    """``out[i]`` = 1 where row ``i`` of ``bits`` (float rows viewed as uint64) differs bit for bit from
    row ``first[inverse[i]]``, the representative its hash chose, else 0: the check of
    :func:`row_hashes`' de-duplication on every core, without copying the rows."""
    for i in range(lo, hi):
        j = first[inverse[i]]
        d = 0
        for k in range(bits.shape[1]):
            if bits[i, k] != bits[j, k]:
                d = 1
                break
        out[i] = d
