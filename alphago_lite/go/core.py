"""Compiled rules kernels: a Go position as two flat numpy arrays, mutated in place by numba.

Vocabulary
----------
N         number of points, size * size. A move is a flat index ``row * size + col`` (row 0 is the
          top line), or ``N`` for pass.
state     int32[STATE_HEADER + 12 * N]: a header of scalars (the ``H_*`` constants), then blocks of N:
          board (BLACK=1, WHITE=-1, EMPTY=0), chain head, chain next (a circular list through each
          chain's stones), chain pseudo-liberties and chain size (both valid at the head), then a ring
          of the 7 previous boards (for history input planes).
hist      uint64[capacity, 4]: row t describes the position after t moves (row 0 is the start position,
          setup stones included): 128-bit Zobrist hash of the stones (lo, hi), info = to_play + 1 |
          stone_count << 8, and the move that led to it (row 0: ``NO_MOVE``).
chain     a maximal connected group of stones of one colour.
pseudo-liberties  the number of (stone, empty neighbour) adjacencies of a chain; zero exactly when the
          chain has no liberty, which is all capture detection needs.

Every kernel is ``njit(cache=True, nogil=True)`` and touches no Python object, so search threads can copy
a position (two ``np.copy`` calls, or ``state[:] = other``) and play moves truly in parallel. The caller
guarantees ``hist`` has a free row for every move it plays (``Game`` grows it; search sizes its scratch).
Superko is exact up to 128-bit hash collisions (probability ~2^-128 per comparison).
"""
from __future__ import annotations

import numpy as np
from numba import njit

BLACK = 1
WHITE = -1
EMPTY = 0
NO_MOVE = -1
MAX_SIZE = 25

KO_SIMPLE = 0
KO_POSITIONAL = 1
KO_SITUATIONAL = 2

# Results of a legality check; LEGAL is zero so "if code:" means "illegal".
LEGAL = 0
OCCUPIED = 1
SUICIDE = 2
SUPERKO = 3
OFF_BOARD = 4
GAME_OVER = 5
REASONS = ("legal", "point occupied", "suicide", "repeats an earlier position (ko/superko)",
           "off the board", "game is over")

# Header fields of ``state``.
H_SIZE = 0
H_TO_PLAY = 1
H_MOVE_NUMBER = 2      # moves played so far (passes included) == current row of hist
H_PASSES = 3           # consecutive passes just played
H_KO_RULE = 4
H_SUICIDE = 5          # 1 if suicide is allowed
H_MAX_MOVES = 6
H_CAPTURES_B = 7       # stones captured by black
H_CAPTURES_W = 8
H_LAST_MOVE = 9
H_KO_POINT = 10        # point made illegal by a simple ko right now, or -1
H_RING = 11            # ring slot holding the most recent previous board
H_STONES = 12          # stones on the board
STATE_HEADER = 16
HISTORY_BOARDS = 7     # previous boards kept in the ring

# hist columns
HIST_LO = 0
HIST_HI = 1
HIST_INFO = 2
HIST_MOVE = 3

_rng = np.random.default_rng(0x5EED_60)
# ZOBRIST[half, colour (0 black, 1 white), point]; a constant baked into the compiled kernels.
ZOBRIST = _rng.integers(1, 2**63, size=(2, 2, MAX_SIZE * MAX_SIZE), dtype=np.int64).astype(np.uint64)
ZOBRIST ^= (_rng.integers(0, 2, size=ZOBRIST.shape, dtype=np.int64).astype(np.uint64) << np.uint64(63))


def state_length(size: int) -> int:
    return STATE_HEADER + 12 * size * size


# ---------------------------------------------------------------------------------------- layout ---

@njit(cache=True, nogil=True, inline="always")
def _n(state):
    return state[H_SIZE] * state[H_SIZE]


@njit(cache=True, nogil=True, inline="always")
def board_off(state):
    return STATE_HEADER


@njit(cache=True, nogil=True, inline="always")
def _head_off(state):
    return STATE_HEADER + _n(state)


@njit(cache=True, nogil=True, inline="always")
def _next_off(state):
    return STATE_HEADER + 2 * _n(state)


@njit(cache=True, nogil=True, inline="always")
def _libs_off(state):
    return STATE_HEADER + 3 * _n(state)


@njit(cache=True, nogil=True, inline="always")
def _csize_off(state):
    return STATE_HEADER + 4 * _n(state)


@njit(cache=True, nogil=True, inline="always")
def ring_off(state, slot):
    return STATE_HEADER + (5 + slot) * _n(state)


@njit(cache=True, nogil=True)
def previous_board_offset(state, k):
    """Offset in ``state`` of the board k moves ago (k = 1..7); empty boards before the start."""
    slot = (state[H_RING] - k + 1) % HISTORY_BOARDS
    if slot < 0:
        slot += HISTORY_BOARDS
    return ring_off(state, slot)


@njit(cache=True, nogil=True, inline="always")
def neighbour(p, k, size):
    """k-th orthogonal neighbour of p (k = 0..3: up, down, left, right) or -1 off the board."""
    if k == 0:
        return p - size if p >= size else -1
    if k == 1:
        return p + size if p < size * (size - 1) else -1
    if k == 2:
        return p - 1 if p % size != 0 else -1
    return p + 1 if p % size != size - 1 else -1


@njit(cache=True, nogil=True, inline="always")
def _colour_index(c):
    return 0 if c == BLACK else 1


@njit(cache=True, nogil=True, inline="always")
def _info(to_play, stones):
    return np.uint64((to_play + 1) | (stones << 8))


# ---------------------------------------------------------------------------------- set-up ----------

@njit(cache=True, nogil=True)
def reset(state, hist, size, ko_rule, suicide, max_moves):
    """Empty board of the given size; hist row 0 describes it. Black to play."""
    state[:] = 0
    state[H_SIZE] = size
    state[H_TO_PLAY] = BLACK
    state[H_KO_RULE] = ko_rule
    state[H_SUICIDE] = suicide
    state[H_MAX_MOVES] = max_moves
    state[H_LAST_MOVE] = NO_MOVE
    state[H_KO_POINT] = NO_MOVE
    n = size * size
    ho = _head_off(state)
    for p in range(n):
        state[ho + p] = -1
    hist[0, HIST_LO] = 0
    hist[0, HIST_HI] = 0
    hist[0, HIST_INFO] = _info(BLACK, 0)
    hist[0, HIST_MOVE] = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, nogil=True)
def rebuild(state, hist):
    """Recompute chains, liberties, stone count and hash from the board alone; restart history at the
    current position (used after setup stones). Returns the number of chains without liberties."""
    size = state[H_SIZE]
    n = size * size
    bo = board_off(state)
    ho = _head_off(state)
    no = _next_off(state)
    lo_ = _libs_off(state)
    so = _csize_off(state)
    for p in range(n):
        state[ho + p] = -1
    h_lo = np.uint64(0)
    h_hi = np.uint64(0)
    stones = 0
    dead = 0
    stack = np.empty(n, np.int32)
    for p in range(n):
        c = state[bo + p]
        if c == 0:
            continue
        ci = _colour_index(c)
        h_lo ^= ZOBRIST[0, ci, p]
        h_hi ^= ZOBRIST[1, ci, p]
        stones += 1
        if state[ho + p] != -1:
            continue
        # flood fill a new chain headed by p, linking stones into a circular list
        state[ho + p] = p
        state[no + p] = p
        count = 1
        top = 0
        stack[top] = p
        top += 1
        while top > 0:
            top -= 1
            q = stack[top]
            for k in range(4):
                r = neighbour(q, k, size)
                if r >= 0 and state[bo + r] == c and state[ho + r] == -1:
                    state[ho + r] = p
                    state[no + r] = state[no + p]
                    state[no + p] = r
                    count += 1
                    stack[top] = r
                    top += 1
        state[so + p] = count
    for p in range(n):
        if state[bo + p] != 0 and state[ho + p] == p:
            state[lo_ + p] = 0
    for p in range(n):
        if state[bo + p] != 0:
            for k in range(4):
                r = neighbour(p, k, size)
                if r >= 0 and state[bo + r] == 0:
                    state[lo_ + state[ho + p]] += 1
    for p in range(n):
        if state[bo + p] != 0 and state[ho + p] == p and state[lo_ + p] == 0:
            dead += 1
    state[H_STONES] = stones
    state[H_MOVE_NUMBER] = 0
    state[H_PASSES] = 0
    state[H_KO_POINT] = NO_MOVE
    hist[0, HIST_LO] = h_lo
    hist[0, HIST_HI] = h_hi
    hist[0, HIST_INFO] = _info(state[H_TO_PLAY], stones)
    return dead


# ------------------------------------------------------------------------------- legality ---------

@njit(cache=True, nogil=True, inline="always")
def _adjacent_count(state, m, head, size):
    """How many neighbours of point m belong to the chain with this head."""
    bo = board_off(state)
    ho = _head_off(state)
    count = 0
    for k in range(4):
        r = neighbour(m, k, size)
        if r >= 0 and state[bo + r] != 0 and state[ho + r] == head:
            count += 1
    return count


@njit(cache=True, nogil=True, inline="always")
def _seen_before(state, m, k, head, size):
    """True if a neighbour of m before index k already belongs to this chain (count it once)."""
    bo = board_off(state)
    ho = _head_off(state)
    for j in range(k):
        r = neighbour(m, j, size)
        if r >= 0 and state[bo + r] != 0 and state[ho + r] == head:
            return True
    return False


@njit(cache=True, nogil=True)
def _chain_hash(state, head, colour):
    no = _next_off(state)
    ci = _colour_index(colour)
    lo = np.uint64(0)
    hi = np.uint64(0)
    p = head
    while True:
        lo ^= ZOBRIST[0, ci, p]
        hi ^= ZOBRIST[1, ci, p]
        p = state[no + p]
        if p == head:
            break
    return lo, hi


@njit(cache=True, nogil=True)
def _repeats(state, hist, lo, hi, stones, to_play_after):
    """True if the position (lo, hi) with to_play_after to move is forbidden by the ko rule."""
    t = state[H_MOVE_NUMBER]
    rule = state[H_KO_RULE]
    if rule == KO_SIMPLE:
        return t >= 1 and hist[t - 1, HIST_LO] == lo and hist[t - 1, HIST_HI] == hi
    want = _info(to_play_after, stones)
    for i in range(t, -1, -1):
        if hist[i, HIST_LO] == lo and hist[i, HIST_HI] == hi:
            if rule == KO_POSITIONAL or hist[i, HIST_INFO] == want:
                return True
    return False


@njit(cache=True, nogil=True)
def _outcome(state, hist, m):
    """(code, hash lo, hash hi, stones) of stone move m before the ko rule is consulted; m is on the
    board and empty."""
    size = state[H_SIZE]
    bo = board_off(state)
    ho = _head_off(state)
    libs_o = _libs_off(state)
    so = _csize_off(state)
    c = state[H_TO_PLAY]
    ci = _colour_index(c)
    t = state[H_MOVE_NUMBER]
    lo = hist[t, HIST_LO] ^ ZOBRIST[0, ci, m]
    hi = hist[t, HIST_HI] ^ ZOBRIST[1, ci, m]
    stones = state[H_STONES] + 1
    keeps_liberty = False
    captures = 0
    for k in range(4):
        r = neighbour(m, k, size)
        if r < 0:
            continue
        rc = state[bo + r]
        if rc == 0:
            keeps_liberty = True
            continue
        head = state[ho + r]
        if _seen_before(state, m, k, head, size):
            continue
        adj = _adjacent_count(state, m, head, size)
        if rc == c:
            if state[libs_o + head] > adj:
                keeps_liberty = True
        elif state[libs_o + head] == adj:
            clo, chi = _chain_hash(state, head, -c)
            lo ^= clo
            hi ^= chi
            stones -= state[so + head]
            captures += 1
    if captures == 0 and not keeps_liberty:
        if state[H_SUICIDE] == 0:
            return SUICIDE, lo, hi, stones
        # the new stone and every friendly chain next to it leave the board
        lo ^= ZOBRIST[0, ci, m]
        hi ^= ZOBRIST[1, ci, m]
        stones -= 1
        for k in range(4):
            r = neighbour(m, k, size)
            if r >= 0 and state[bo + r] == c:
                head = state[ho + r]
                if not _seen_before(state, m, k, head, size):
                    clo, chi = _chain_hash(state, head, c)
                    lo ^= clo
                    hi ^= chi
                    stones -= state[so + head]
    return LEGAL, lo, hi, stones


@njit(cache=True, nogil=True)
def check_move(state, hist, m):
    """Legality code of move m for the player to move (LEGAL == 0), without changing anything.
    Does not look at whether the game is over (see ``is_terminal``)."""
    n = _n(state)
    if m == n:
        return LEGAL
    if m < 0 or m > n:
        return OFF_BOARD
    if state[board_off(state) + m] != 0:
        return OCCUPIED
    code, lo, hi, stones = _outcome(state, hist, m)
    if code == LEGAL and _repeats(state, hist, lo, hi, stones, -state[H_TO_PLAY]):
        return SUPERKO
    return code


@njit(cache=True, nogil=True)
def _rows_with_stones(state, hist, stones, rows):
    """Write into rows the history rows whose position had this many stones; return how many."""
    count = 0
    for i in range(state[H_MOVE_NUMBER] + 1):
        if (hist[i, HIST_INFO] >> np.uint64(8)) == np.uint64(stones):
            rows[count] = i
            count += 1
    return count


@njit(cache=True, nogil=True)
def _legal_fast(state, hist, m, rows, nrows):
    """check_move for a stone move, where rows[:nrows] are the history rows holding one stone more
    than now: a move that captures nothing can only repeat one of those, so most moves skip the scan."""
    n = _n(state)
    if m == n:
        return True
    bo = board_off(state)
    if state[bo + m] != 0:
        return False
    # quiet point (an empty neighbour, no opponent next to it: nothing captured, no suicide), most of
    # the board: only the repetition check is left, and the hash is one XOR away
    size = state[H_SIZE]
    c = state[H_TO_PLAY]
    has_empty = False
    has_opponent = False
    for k in range(4):
        r = neighbour(m, k, size)
        if r >= 0:
            v = state[bo + r]
            if v == 0:
                has_empty = True
            elif v != c:
                has_opponent = True
    if has_empty and not has_opponent:
        if state[H_KO_RULE] == KO_SIMPLE or nrows == 0:
            return True  # simple ko only forbids retaking at once, which captures; nothing to repeat
        stones = state[H_STONES] + 1
        t = state[H_MOVE_NUMBER]
        ci = _colour_index(c)
        lo = hist[t, HIST_LO] ^ ZOBRIST[0, ci, m]
        hi = hist[t, HIST_HI] ^ ZOBRIST[1, ci, m]
    else:
        code, lo, hi, stones = _outcome(state, hist, m)
        if code != LEGAL:
            return False
        if state[H_KO_RULE] == KO_SIMPLE or stones != state[H_STONES] + 1:
            return not _repeats(state, hist, lo, hi, stones, -state[H_TO_PLAY])
    want = _info(-state[H_TO_PLAY], stones)
    for j in range(nrows):
        i = rows[j]
        if hist[i, HIST_LO] == lo and hist[i, HIST_HI] == hi:
            if state[H_KO_RULE] == KO_POSITIONAL or hist[i, HIST_INFO] == want:
                return False
    return True


@njit(cache=True, nogil=True)
def is_terminal(state):
    return state[H_PASSES] >= 2 or state[H_MOVE_NUMBER] >= state[H_MAX_MOVES]


@njit(cache=True, nogil=True)
def _legal_scan(state, hist, mask, moves):
    """Legality of every move, pass included: mask[m] (bool) and/or the legal moves in order into
    moves (either may be a zero-length array, then it is not written). Returns the count."""
    n = _n(state)
    rows = np.empty(state[H_MOVE_NUMBER] + 1, np.int32)
    nrows = _rows_with_stones(state, hist, state[H_STONES] + 1, rows)
    count = 0
    for m in range(n + 1):
        ok = _legal_fast(state, hist, m, rows, nrows)
        if mask.shape[0]:
            mask[m] = ok
        if ok:
            if moves.shape[0]:
                moves[count] = m
            count += 1
    return count


@njit(cache=True, nogil=True)
def legal_mask(state, hist, out):
    """Fill out[0..N] (bool) with the legality of every move, pass included. Returns the count."""
    return _legal_scan(state, hist, out, np.empty(0, np.int32))


@njit(cache=True, nogil=True)
def legal_moves_into(state, hist, out):
    """Write the legal moves (flat indices, pass last) into out; return how many."""
    return _legal_scan(state, hist, np.empty(0, np.bool_), out)


# -------------------------------------------------------------------------------- playing ---------

@njit(cache=True, nogil=True)
def _push_ring(state):
    n = _n(state)
    slot = (state[H_RING] + 1) % HISTORY_BOARDS
    state[H_RING] = slot
    ro = ring_off(state, slot)
    bo = board_off(state)
    for p in range(n):
        state[ro + p] = state[bo + p]


@njit(cache=True, nogil=True)
def _remove_chain(state, head):
    """Take a chain off the board, giving its neighbours back their liberties. Returns stones removed."""
    size = state[H_SIZE]
    bo = board_off(state)
    ho = _head_off(state)
    no = _next_off(state)
    libs_o = _libs_off(state)
    removed = 0
    p = head
    while True:
        state[bo + p] = 0
        removed += 1
        p = state[no + p]
        if p == head:
            break
    p = head
    while True:
        for k in range(4):
            r = neighbour(p, k, size)
            if r >= 0 and state[bo + r] != 0:
                state[libs_o + state[ho + r]] += 1
        nxt = state[no + p]
        state[ho + p] = -1
        p = nxt
        if p == head:
            break
    return removed


@njit(cache=True, nogil=True)
def _merge(state, a, b):
    """Merge chain b into chain a (both heads); the bigger keeps its head. Returns the new head."""
    ho = _head_off(state)
    no = _next_off(state)
    libs_o = _libs_off(state)
    so = _csize_off(state)
    if state[so + a] < state[so + b]:
        a, b = b, a
    p = b
    while True:
        state[ho + p] = a
        p = state[no + p]
        if p == b:
            break
    na = state[no + a]
    state[no + a] = state[no + b]
    state[no + b] = na
    state[libs_o + a] += state[libs_o + b]
    state[so + a] += state[so + b]
    return a


@njit(cache=True, nogil=True)
def apply_move(state, hist, m):
    """Play m for the player to move, assuming check_move said LEGAL. Writes hist row t+1."""
    size = state[H_SIZE]
    n = size * size
    c = state[H_TO_PLAY]
    t = state[H_MOVE_NUMBER]
    _push_ring(state)
    lo = hist[t, HIST_LO]
    hi = hist[t, HIST_HI]
    state[H_KO_POINT] = NO_MOVE
    if m == n:
        state[H_PASSES] += 1
    else:
        state[H_PASSES] = 0
        bo = board_off(state)
        ho = _head_off(state)
        no = _next_off(state)
        libs_o = _libs_off(state)
        so = _csize_off(state)
        ci = _colour_index(c)
        state[bo + m] = c
        state[ho + m] = m
        state[no + m] = m
        state[so + m] = 1
        libs = 0
        for k in range(4):
            r = neighbour(m, k, size)
            if r < 0:
                continue
            if state[bo + r] == 0:
                libs += 1
            elif r != m:
                state[libs_o + state[ho + r]] -= 1
        state[libs_o + m] = libs
        lo ^= ZOBRIST[0, ci, m]
        hi ^= ZOBRIST[1, ci, m]
        stones = state[H_STONES] + 1
        for k in range(4):
            r = neighbour(m, k, size)
            if r >= 0 and state[bo + r] == c and state[ho + r] != state[ho + m]:
                _merge(state, state[ho + r], state[ho + m])
        captured = 0
        last_captured = NO_MOVE
        for k in range(4):
            r = neighbour(m, k, size)
            if r >= 0 and state[bo + r] == -c and state[libs_o + state[ho + r]] == 0:
                head = state[ho + r]
                clo, chi = _chain_hash(state, head, -c)
                lo ^= clo
                hi ^= chi
                captured += _remove_chain(state, head)
                last_captured = r
        mh = state[ho + m]
        if captured == 0 and state[libs_o + mh] == 0:
            # suicide (only reached when allowed): the whole chain goes
            clo, chi = _chain_hash(state, mh, c)
            lo ^= clo
            hi ^= chi
            lost = _remove_chain(state, mh)
            stones -= lost
            if c == BLACK:
                state[H_CAPTURES_W] += lost
            else:
                state[H_CAPTURES_B] += lost
        else:
            stones -= captured
            if c == BLACK:
                state[H_CAPTURES_B] += captured
            else:
                state[H_CAPTURES_W] += captured
            if captured == 1 and state[so + mh] == 1 and state[libs_o + mh] == 1:
                state[H_KO_POINT] = last_captured
        state[H_STONES] = stones
    state[H_LAST_MOVE] = m
    state[H_TO_PLAY] = -c
    state[H_MOVE_NUMBER] = t + 1
    hist[t + 1, HIST_LO] = lo
    hist[t + 1, HIST_HI] = hi
    hist[t + 1, HIST_INFO] = _info(-c, state[H_STONES])
    hist[t + 1, HIST_MOVE] = np.uint64(m)


@njit(cache=True, nogil=True)
def play(state, hist, m):
    """Check then play m; returns the legality code and leaves the position unchanged unless LEGAL."""
    code = check_move(state, hist, m)
    if code == LEGAL:
        apply_move(state, hist, m)
    return code


@njit(cache=True, nogil=True)
def replay(state, hist, moves, colours):
    """Play a sequence from the current position, setting the player before each move (colours[i]).
    Returns the index of the first illegal move, or -1 when all were legal."""
    for i in range(moves.shape[0]):
        state[H_TO_PLAY] = colours[i]
        if play(state, hist, moves[i]) != LEGAL:
            return i
    return -1


# -------------------------------------------------------------------------------- scoring --------

@njit(cache=True, nogil=True)
def fills_own_eye(state, m):
    """True if m is an empty point whose every neighbour is a stone of the player to move. Filling such
    a point never helps a random player or a search's pass rule, and makes games endless."""
    size = state[H_SIZE]
    bo = board_off(state)
    if m >= size * size or state[bo + m] != EMPTY:
        return False
    c = state[H_TO_PLAY]
    for k in range(4):
        r = neighbour(m, k, size)
        if r >= 0 and state[bo + r] != c:
            return False
    return True


@njit(cache=True, nogil=True)
def area_score(state):
    """Tromp-Taylor area: (black, white) = stones plus empty regions reaching only that colour."""
    size = state[H_SIZE]
    n = size * size
    bo = board_off(state)
    black = 0
    white = 0
    seen = np.zeros(n, np.bool_)
    stack = np.empty(n, np.int32)
    for p in range(n):
        c = state[bo + p]
        if c == BLACK:
            black += 1
        elif c == WHITE:
            white += 1
        elif not seen[p]:
            region = 0
            reach_b = False
            reach_w = False
            seen[p] = True
            stack[0] = p
            top = 1
            while top > 0:
                top -= 1
                q = stack[top]
                region += 1
                for k in range(4):
                    r = neighbour(q, k, size)
                    if r < 0:
                        continue
                    rc = state[bo + r]
                    if rc == BLACK:
                        reach_b = True
                    elif rc == WHITE:
                        reach_w = True
                    elif not seen[r]:
                        seen[r] = True
                        stack[top] = r
                        top += 1
            if reach_b and not reach_w:
                black += region
            elif reach_w and not reach_b:
                white += region
    return black, white


@njit(cache=True, nogil=True)
def chain_liberties(state, out):
    """Exact liberty count of the chain through every point (0 on empty points) into out[0..N)."""
    size = state[H_SIZE]
    n = size * size
    bo = board_off(state)
    ho = _head_off(state)
    no = _next_off(state)
    mark = np.full(n, -1, np.int32)
    for p in range(n):
        out[p] = 0
    for p in range(n):
        if state[bo + p] == 0 or state[ho + p] != p:
            continue
        libs = 0
        q = p
        while True:
            for k in range(4):
                r = neighbour(q, k, size)
                if r >= 0 and state[bo + r] == 0 and mark[r] != p:
                    mark[r] = p
                    libs += 1
            q = state[no + q]
            if q == p:
                break
        q = p
        while True:
            out[q] = libs
            q = state[no + q]
            if q == p:
                break


# ---------------------------------------------------------------------------- random playouts -----

@njit(cache=True, nogil=True)
def random_playouts(state, hist, games, seed):
    """Play `games` uniformly random games (uniform over legal moves, pass included) from a copy of
    the given position to the end. Returns the total number of moves played. For benchmarks."""
    np.random.seed(seed)
    n = _n(state)
    work = state.copy()
    whist = hist.copy()
    candidates = np.empty(n + 1, np.int32)
    bo = board_off(state)
    total = 0
    for _ in range(games):
        work[:] = state
        while not is_terminal(work):
            k = 0
            for p in range(n):
                if work[bo + p] == 0:
                    candidates[k] = p
                    k += 1
            candidates[k] = n
            k += 1
            while True:
                i = np.random.randint(k)
                m = candidates[i]
                if check_move(work, whist, m) == LEGAL:
                    apply_move(work, whist, m)
                    break
                k -= 1
                candidates[i] = candidates[k]
            total += 1
    return total
