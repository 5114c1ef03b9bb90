"""Property tests: random legal games checked against a slow, obviously-correct reference after each move."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alphago_lite.go import Game, core


def reference_after(board: tuple, size: int, move: int, colour: int):
    """Board after `colour` plays `move` by plain flood fills; None if suicide (the engine's default)."""
    b = list(board)

    def group_and_libs(p):
        colour_p, seen, libs, todo = b[p], {p}, set(), [p]
        while todo:
            q = todo.pop()
            r, c = divmod(q, size)
            for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= rr < size and 0 <= cc < size:
                    x = rr * size + cc
                    if b[x] == 0:
                        libs.add(x)
                    elif b[x] == colour_p and x not in seen:
                        seen.add(x)
                        todo.append(x)
        return seen, libs

    b[move] = colour
    r, c = divmod(move, size)
    for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
        if 0 <= rr < size and 0 <= cc < size and b[rr * size + cc] == -colour:
            chain, libs = group_and_libs(rr * size + cc)
            if not libs:
                for x in chain:
                    b[x] = 0
    if not group_and_libs(move)[1]:
        return None
    return tuple(b)


def reference_legal(game: Game, seen_boards: set) -> set:
    size, n = game.size, game.size * game.size
    board = tuple(int(v) for v in game.board.ravel())
    legal = {n}
    for m in range(n):
        if board[m] == 0:
            after = reference_after(board, size, m, game.to_play)
            if after is not None and after not in seen_boards:
                legal.add(m)
    return legal


def from_scratch_hash(game: Game) -> tuple[int, int]:
    state, hist = game.raw_position()
    s, h = state.copy(), hist.copy()
    core.rebuild(s, h)
    return int(h[0, 0]), int(h[0, 1])


@settings(max_examples=25, deadline=None)
@given(size=st.integers(2, 7), seed=st.integers(0, 2**32 - 1))
def test_random_games_keep_every_invariant(size, seed):
    rng = np.random.default_rng(seed)
    game = Game(size=size, komi=0.5, max_moves=3 * size * size)
    seen = {tuple(int(v) for v in game.board.ravel())}
    libs = np.empty(size * size, np.int32)
    while not game.is_over:
        legal = set(int(m) for m in game.legal_moves())
        assert legal == reference_legal(game, seen)
        assert all(game.is_legal(m) == (m in legal) for m in range(size * size + 1))
        before = game.raw_position()[0].copy()
        move = int(rng.choice(sorted(legal)))
        game.play(move)
        state, hist = game.raw_position()
        # no chain without liberties, and the incremental hash equals a from-scratch one
        core.chain_liberties(state, libs)
        assert np.all(libs[game.board.ravel() != 0] > 0)
        t = game.move_number
        assert (int(hist[t, 0]), int(hist[t, 1])) == from_scratch_hash(game)
        seen.add(tuple(int(v) for v in game.board.ravel()))
        # undo restores exactly, then replay the move
        game.undo()
        assert np.array_equal(game.raw_position()[0], before)
        game.play(move)
