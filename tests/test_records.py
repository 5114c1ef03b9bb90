"""GameRecord: msgpack round trip, rejection of bad bytes and versions, SGF export, version 2's policy
weights and ownership (and version 1 records without them)."""
import msgpack
import numpy as np
import pytest

from alphago_lite.go import from_gtp, game_from_diagram
from alphago_lite.selfplay.records import (
    RECORD_VERSION,
    GameRecord,
    RecordError,
    area_ownership,
    decode_record,
    encode_record,
    record_to_sgf,
    replay_record,
    sparse_policy,
)
from alphago_lite.sgf import parse_sgf

SIZE = 5
PASS = SIZE * SIZE


def sample_record(**changes) -> GameRecord:
    """A short finished 5x5 game: four stones, then two passes. The empty points all touch both
    colours, so the area is 2 stones each and komi decides: W+2.5."""
    moves = tuple(from_gtp(m, SIZE) for m in ("C3", "C4", "B3", "D3")) + (PASS, PASS)
    fields = dict(
        size=SIZE, komi=2.5, rules={"superko": "positional", "suicide": False, "max_moves": 50},
        moves=moves,
        visit_moves=((12, 7), (7, 17), (11,), (13, 18), (PASS,), ()),
        visit_counts=((30, 2), (20, 12), (31,), (16, 16), (31,), ()),
        root_values=(0.1, -0.25, 0.5, -0.75, 1.0, 0.0),
        full_search=(True, True, False, True, True, False),
        result="W+2.5", winner=-1, model_version=7, resign_disabled=True)
    fields.update(changes)
    return GameRecord(**fields)


def test_msgpack_round_trip_gives_an_equal_record():
    record = sample_record(extra={"worker": 3})
    data = encode_record(record)
    assert isinstance(data, bytes)
    assert decode_record(data) == record


def test_other_versions_are_refused_by_name():
    payload = msgpack.unpackb(encode_record(sample_record()), raw=False)
    payload["v"] = RECORD_VERSION + 1
    with pytest.raises(RecordError, match=f"version {RECORD_VERSION + 1}"):
        decode_record(msgpack.packb(payload))


@pytest.mark.parametrize("data", [b"\xc1\xc1 not msgpack", b"", msgpack.packb([1, 2, 3])])
def test_garbage_bytes_raise_record_error(data):
    with pytest.raises(RecordError):
        decode_record(data)
    assert issubclass(RecordError, ValueError)


def test_a_missing_field_is_named():
    payload = msgpack.unpackb(encode_record(sample_record()), raw=False)
    del payload["winner"]
    with pytest.raises(RecordError, match="winner"):
        decode_record(msgpack.packb(payload))


def test_per_move_fields_must_match_the_moves():
    with pytest.raises(RecordError, match="root_values"):
        sample_record(root_values=(0.0,))


def test_policy_target_is_the_normalised_visit_distribution():
    target = sample_record().policy_target(0)
    assert target.shape == (PASS + 1,)
    assert target[12] == pytest.approx(30 / 32) and target[7] == pytest.approx(2 / 32)
    assert target.sum() == pytest.approx(1.0)
    assert sample_record().policy_target(5).sum() == 0.0  # the unsearched move has no target


def test_replay_reaches_the_recorded_end():
    game = replay_record(sample_record())
    assert game.is_over
    assert game.result() == "W+2.5"
    assert game.history == list(sample_record().moves)


def test_sgf_export_parses_back_with_the_same_moves_and_comments():
    record = sample_record()
    sgf = parse_sgf(record_to_sgf(record))
    assert sgf.size == SIZE and sgf.komi == 2.5 and sgf.result == "W+2.5"
    points = [None if m == PASS else divmod(m, SIZE) for m in record.moves]
    assert [p for _, p in sgf.moves] == points
    assert [c for c, _ in sgf.moves] == ["B", "W", "B", "W", "B", "W"]
    # visit-weighted win rate of the player to move: (value + 1) / 2
    assert sgf.comments[0] == "winrate 55.0% visits 32"
    assert sgf.comments[3] == "winrate 12.5% visits 32"
    assert sgf.comments[5] is None  # no search, no comment


# ------------------------------------------------------- version 2: policy weights, ownership ---

def test_area_ownership_of_a_drawn_position_counts_like_the_area_score():
    game = game_from_diagram("""
        . X O . .
        X X O . .
        . X O O O
        X X O . .
        . X O . X""", komi=0.5)
    owner = area_ownership(game.board)
    expected = np.array([
        [1, 1, -1, -1, -1],
        [1, 1, -1, -1, -1],
        [1, 1, -1, -1, -1],
        [1, 1, -1, 0, 0],    # the empty points next to the black stone at E1 touch both colours
        [1, 1, -1, 0, 1]])
    np.testing.assert_array_equal(owner, expected)
    assert (owner == 1).sum() - (owner == -1).sum() - 0.5 == game.score()


def test_round_trip_keeps_policy_weights_and_ownership():
    record = sample_record(policy_moves=((12, 7), (), (11,), (13, 18), (), ()),
                           policy_weights=((60000, 5536), (), (65536,), (1, 3), (), ()),
                           ownership=(1, -1, 0, 0, 1) * 5)
    assert decode_record(encode_record(record)) == record
    assert record.has_ownership
    target = record.policy_target(0)  # the recorded weights, not the visits (30, 2)
    assert target[12] == pytest.approx(60000 / 65536) and target[7] == pytest.approx(5536 / 65536)
    assert record.policy_target(1)[7] == pytest.approx(20 / 32)  # no weights there: the visits
    assert record.policy_target(3)[18] == pytest.approx(0.75)
    np.testing.assert_array_equal(record.ownership_for_mover(-1)[0], [-1, 1, 0, 0, -1])


def test_a_version_1_record_still_loads_without_weights_or_ownership():
    payload = msgpack.unpackb(encode_record(sample_record()), raw=False)
    for key in ("policy_moves", "policy_weights", "ownership"):
        del payload[key]
    payload["v"] = 1
    record = decode_record(msgpack.packb(payload))
    assert record == sample_record()
    assert not record.has_ownership
    assert record.policy_target(0)[12] == pytest.approx(30 / 32)
    with pytest.raises(RecordError, match="no ownership"):
        record.ownership_for_mover(1)


@pytest.mark.parametrize("changes, field", [
    ({"ownership": (1, -1)}, "ownership"),
    ({"policy_moves": ((1,),), "policy_weights": ((1,),)}, "policy_moves"),
])
def test_malformed_version_2_fields_are_named(changes, field):
    with pytest.raises(RecordError, match=field):
        sample_record(**changes)


def test_sparse_policy_rounds_to_the_scale_and_drops_what_rounds_to_zero():
    policy = np.zeros(PASS + 1)
    policy[[3, 7, 9]] = [0.75, 0.25 - 1e-7, 1e-7]
    moves, weights = sparse_policy(policy)
    assert moves == (3, 7) and weights == (49152, 16384)
