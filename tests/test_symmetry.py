"""The 8 board symmetries form the dihedral group and map planes and policies consistently."""

import numpy as np
import pytest

from alphago_lite.net import symmetry
from alphago_lite.net.symmetry import SymmetryError, apply_to_planes, apply_to_policy, compose, inverse

ALL = range(symmetry.NUM_SYMMETRIES)


def test_the_eight_images_of_an_asymmetric_board_are_distinct():
    board = np.arange(16).reshape(4, 4)
    images = {apply_to_planes(board, k).tobytes() for k in ALL}
    assert len(images) == 8
    assert np.array_equal(apply_to_planes(board, 0), board)


def test_known_images_of_a_corner_stone():
    board = np.zeros((3, 3), dtype=np.uint8)
    board[0, 1] = 1  # top edge, middle
    assert apply_to_planes(board, 1)[1, 0] == 1  # a counter-clockwise quarter turn moves it to the left edge
    assert apply_to_planes(board, 2)[2, 1] == 1
    corner = np.zeros((3, 3), dtype=np.uint8)
    corner[0, 0] = 1
    assert apply_to_planes(corner, 4)[0, 2] == 1  # mirror left-right


def test_group_laws():
    board = np.arange(25).reshape(5, 5)
    for a in ALL:
        assert compose(a, 0) == a and compose(0, a) == a
        assert compose(a, inverse(a)) == 0 and compose(inverse(a), a) == 0
        for b in ALL:
            c = compose(a, b)
            assert c in ALL  # closure
            assert np.array_equal(apply_to_planes(board, c), apply_to_planes(apply_to_planes(board, b), a))
            for d in ALL:  # associativity
                assert compose(compose(a, b), d) == compose(a, compose(b, d))
    # rotations by 90 and 270 degrees are each other's inverse; reflections are their own.
    assert [inverse(k) for k in ALL] == [0, 3, 2, 1, 4, 5, 6, 7]


def test_policy_follows_the_planes_and_pass_stays_pass():
    size = 5
    rng = np.random.default_rng(1)
    for k in ALL:
        for move in rng.choice(size * size, 6, replace=False):
            plane = np.zeros((size, size), dtype=np.uint8)
            plane.flat[move] = 1
            one_hot = np.zeros(size * size + 1)
            one_hot[move] = 1
            moved = apply_to_policy(one_hot, k, size)
            assert np.array_equal(moved[:-1], apply_to_planes(plane, k).ravel())
        pass_only = np.zeros(size * size + 1)
        pass_only[-1] = 0.7
        assert np.array_equal(apply_to_policy(pass_only, k, size), pass_only)


def test_planes_then_policy_round_trip_on_batches():
    size = 7
    rng = np.random.default_rng(2)
    planes = rng.integers(0, 2, size=(3, 4, size, size), dtype=np.uint8)
    policy = rng.random((3, size * size + 1))
    for k in ALL:
        assert np.array_equal(apply_to_planes(apply_to_planes(planes, k), inverse(k)), planes)
        assert np.array_equal(apply_to_policy(apply_to_policy(policy, k, size), inverse(k), size), policy)


def test_bad_arguments_are_rejected():
    with pytest.raises(SymmetryError, match="0..7"):
        apply_to_planes(np.zeros((3, 3)), 8)
    with pytest.raises(SymmetryError, match="square"):
        apply_to_planes(np.zeros((3, 4)), 1)
    with pytest.raises(SymmetryError, match="26 moves"):
        apply_to_policy(np.zeros(25), 1, 5)
