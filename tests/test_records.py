"""GameRecord: msgpack round trip, rejection of bad bytes and versions, SGF export."""
import msgpack
import pytest

from alphago_lite.go import from_gtp
from alphago_lite.selfplay.records import (
    RECORD_VERSION,
    GameRecord,
    RecordError,
    decode_record,
    encode_record,
    record_to_sgf,
    replay_record,
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
