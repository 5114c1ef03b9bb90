"""Shards (write, read back, torn tails) and the sampling window of alphago_lite.selfplay.replay; no Ray."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from alphago_lite.config import load_config
from alphago_lite.go import Game
from alphago_lite.net.evaluator import UniformEvaluator
from alphago_lite.net.symmetry import apply_to_planes, apply_to_policy
from alphago_lite.selfplay.player import play_games
from alphago_lite.selfplay.replay import (
    ReplayWindow,
    ShardWriter,
    read_games,
    read_shard,
    read_shard_checked,
    read_shard_index,
    read_stored_games,
)

FEATURES = "agz"


@pytest.fixture(scope="module")
def cfg():
    return load_config("configs/tiny.yaml", ["search.num_simulations=8"])


@pytest.fixture(scope="module")
def records(cfg):
    games = play_games(UniformEvaluator(cfg.game.size, FEATURES), cfg, 3, seed=7)
    assert len(games) == 3
    return games


def test_shard_round_trip_keeps_every_field(tmp_path, records):
    writer = ShardWriter(tmp_path, games_per_shard=2)
    for r in records:
        writer.append(r)
    writer.close()
    shards = sorted(tmp_path.glob("shard-*.msgpack"))
    assert [s.name for s in shards] == ["shard-000000.msgpack", "shard-000001.msgpack"]
    assert len(list(read_shard(shards[0]))) == 2
    assert read_games(tmp_path) == records


def test_new_writer_starts_a_new_shard_after_existing_ones(tmp_path, records):
    first = ShardWriter(tmp_path, games_per_shard=10)
    first.append(records[0])
    first.close()
    second = ShardWriter(tmp_path, games_per_shard=10)
    second.append(records[1])
    second.close()
    assert len(list(tmp_path.glob("shard-*.msgpack"))) == 2
    assert read_games(tmp_path) == records[:2]


@pytest.mark.parametrize("cut", [1, 3, 6])
def test_torn_last_record_is_skipped_and_earlier_games_survive(tmp_path, records, cut):
    writer = ShardWriter(tmp_path, games_per_shard=10)
    for r in records:
        writer.append(r)
    writer.close()
    shard = next(tmp_path.glob("shard-*.msgpack"))
    data = shard.read_bytes()
    shard.write_bytes(data[:-cut])
    with pytest.warns(UserWarning, match="torn"):
        games = read_games(tmp_path)
    assert games == records[:2]


def test_torn_record_header_is_skipped(tmp_path, records):
    writer = ShardWriter(tmp_path, games_per_shard=10)
    writer.append(records[0])
    writer.close()
    shard = next(tmp_path.glob("shard-*.msgpack"))
    shard.write_bytes(shard.read_bytes() + b"\x07\x00")  # two bytes of a four-byte length header
    with pytest.warns(UserWarning, match="torn record header"):
        assert read_games(tmp_path) == records[:1]


def _movers(record) -> list[int]:
    """Colour to move before each move, found by replaying the game (not by move parity)."""
    game = Game(size=record.size, komi=record.komi)
    movers = []
    for move in record.moves:
        movers.append(game.to_play)
        game.play(move)
    return movers


def test_window_targets_match_the_records(cfg, records):
    window = ReplayWindow(dataclasses.replace(cfg.replay, symmetries=False), FEATURES, seed=1)
    for r in records:
        window.add(r)
    assert window.games_seen == 3
    assert window.positions_seen == sum(r.num_training_positions for r in records)
    for record, (planes, policies, values, *_) in zip(records, window.games):
        full = [i for i, f in enumerate(record.full_search) if f]
        assert planes.shape == (len(full), 17, 5, 5) and planes.dtype == np.uint8
        assert policies.shape == (len(full), 26)
        np.testing.assert_allclose(policies.sum(axis=1), 1.0, atol=1e-5)
        assert record.winner in (1, -1)  # komi 2.5: no draws
        movers = _movers(record)
        expected = [1.0 if record.winner == movers[i] else -1.0 for i in full]
        assert values.tolist() == expected


def test_sample_shapes_and_rows_come_from_the_window(cfg, records):
    window = ReplayWindow(dataclasses.replace(cfg.replay, symmetries=False), FEATURES, seed=2)
    for r in records:
        window.add(r)
    planes, policy, value, _, _ = window.sample(64)
    assert planes.shape == (64, 17, 5, 5) and planes.dtype == np.uint8
    assert policy.shape == (64, 26) and policy.dtype == np.float32
    assert value.shape == (64,) and value.dtype == np.float32
    np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=1e-5)
    assert set(np.unique(value)) <= {-1.0, 1.0}
    stored = [(p.tobytes(), pol.tobytes(), v) for g in window.games
              for p, pol, v in zip(g.planes, g.policies, g.values)]
    for p, pol, v in zip(planes, policy, value):
        assert (p.tobytes(), pol.tobytes(), v) in stored


def test_sample_with_symmetries_keeps_policy_mass_and_values(cfg, records):
    window = ReplayWindow(cfg.replay, FEATURES, seed=3)
    for r in records:
        window.add(r)
    planes, policy, value, _, _ = window.sample(128)
    np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=1e-5)
    assert set(np.unique(value)) <= {-1.0, 1.0}
    # a symmetry permutes points: each sample keeps its stone count
    stored_counts = {int(p.sum()) for g in window.games for p in g[0]}
    assert {int(p.sum()) for p in planes} <= stored_counts


def test_empty_window_refuses_to_sample(cfg):
    with pytest.raises(ValueError, match="no training positions"):
        ReplayWindow(cfg.replay, FEATURES).sample(4)


def test_window_grows_with_games_seen_up_to_the_cap(cfg, records):
    replay = dataclasses.replace(cfg.replay, window_min_games=2, window_growth=0.5, window_max_games=4)
    window = ReplayWindow(replay, FEATURES)
    held = []
    for _ in range(7):
        window.add(records[0])
        held.append(len(window.games))
    # window after n games: min(4, int(2 + 0.5 n)) = 2, 3, 3, 4, 4, 4, 4; it holds at most n games
    assert held == [1, 2, 3, 4, 4, 4, 4]
    assert window.window_size() == 4
    window2 = ReplayWindow(dataclasses.replace(replay, window_max_games=100), FEATURES)
    window2.games_seen = 10
    assert window2.window_size() == 7


# ------------------------------------------------------------------------------ damaged data ---
def _write_shard(directory, records, close=True):
    """Records in one shard; closing it writes its line of the shard index (games, bytes)."""
    writer = ShardWriter(directory, games_per_shard=len(records))
    for r in records:
        writer.append(r)
    if close:
        writer.close()
    return next(directory.glob("shard-*.msgpack"))


def _frames(shard) -> list[int]:
    """Byte offset of each record's length prefix in an undamaged shard."""
    contents = read_shard_checked(shard)
    assert contents.problems == []
    return [game.offset for game in contents.games]


def _overwrite(path, offset, data):
    raw = bytearray(path.read_bytes())
    raw[offset:offset + len(data)] = data
    path.write_bytes(bytes(raw))


def test_a_garbled_record_is_skipped_and_reading_goes_on(tmp_path, records):
    shard = _write_shard(tmp_path, records)
    starts = _frames(shard)
    _overwrite(shard, starts[1] + 4, b"\xc1" * 8)  # 0xc1: a byte msgpack never uses
    with pytest.warns(UserWarning, match="not valid msgpack"):
        assert read_games(tmp_path) == [records[0], records[2]]
    [problem] = read_stored_games(tmp_path).problems
    assert (problem.file, problem.offset, problem.games_lost) == (str(shard), starts[1], 1)
    assert problem.bytes_skipped == starts[2] - starts[1]


def test_a_garbled_length_prefix_resynchronises_at_the_next_intact_record(tmp_path, records):
    shard = _write_shard(tmp_path, records)
    starts = _frames(shard)
    _overwrite(shard, starts[1], b"\xff\xff\xff\x7f")  # says 2 GB
    contents = read_stored_games(tmp_path)
    assert [g.record for g in contents.games] == [records[0], records[2]]
    [problem] = contents.problems
    assert problem.offset == starts[1] and problem.bytes_skipped == starts[2] - starts[1]
    assert "skipped to the next intact record" in problem.what


def test_200_garbled_bytes_cost_the_games_they_hit_and_every_game_is_accounted_for(tmp_path, records):
    """The reproduction of issue 10 (200 bytes overwritten at byte 5000), on a closed shard of 6 games:
    every game is either read back intact or counted as lost."""
    games = list(records) * 2
    shard = _write_shard(tmp_path, games)
    assert shard.stat().st_size > 5200
    _overwrite(shard, 5000, np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8).tobytes())
    contents = read_stored_games(tmp_path)
    intact = [g.record for g in contents.games]
    assert 0 < len(intact) < len(games) and all(r in games for r in intact)
    assert len(intact) + sum(p.games_lost for p in contents.problems) == len(games)
    assert contents.problems[0].offset <= 5000 < contents.problems[-1].offset + contents.problems[-1].bytes_skipped


def test_a_truncated_closed_shard_reports_how_many_games_it_lost(tmp_path, records):
    games = list(records) * 2
    shard = _write_shard(tmp_path, games)
    shard.write_bytes(shard.read_bytes()[:shard.stat().st_size // 2 + 10])  # `truncate` to half (mid-record)
    with pytest.warns(UserWarning, match="torn record"):
        intact = read_games(tmp_path)
    [problem] = read_stored_games(tmp_path).problems
    assert len(intact) + problem.games_lost == 6 and problem.games_lost >= 3
    assert "6 games" in problem.what and problem.file == str(shard)


def test_a_shard_cut_at_a_record_boundary_still_reports_its_lost_games(tmp_path, records):
    shard = _write_shard(tmp_path, records)
    shard.write_bytes(shard.read_bytes()[:_frames(shard)[2]])
    [problem] = read_stored_games(tmp_path).problems
    assert problem.games_lost == 1 and "shard ends early" in problem.what


def test_a_torn_tail_of_a_shard_never_closed_costs_one_game(tmp_path, records):
    """A kill in mid-write: the shard has no index line, and one torn record is all that is lost."""
    shard = _write_shard(tmp_path, records, close=False)
    shard.write_bytes(shard.read_bytes()[:-5])
    contents = read_stored_games(tmp_path)
    assert [g.record for g in contents.games] == records[:2]
    [problem] = contents.problems
    assert problem.games_lost == 1 and "rest of the shard skipped" in problem.what


def test_a_shard_file_missing_from_the_index_is_reported(tmp_path, records):
    writer = ShardWriter(tmp_path, games_per_shard=2)
    for r in records:
        writer.append(r)
    writer.close()
    assert read_shard_index(tmp_path) == {
        s.name: {"games": n, "bytes": s.stat().st_size}
        for s, n in zip(sorted(tmp_path.glob("shard-*.msgpack")), (2, 1))}
    (tmp_path / "shard-000000.msgpack").unlink()
    contents = read_stored_games(tmp_path)
    assert [g.record for g in contents.games] == records[2:]
    [problem] = contents.problems
    assert problem.games_lost == 2 and problem.what == "shard file is missing"


def test_restoring_the_window_skips_games_that_do_not_replay(tmp_path, cfg, records):
    first = next(m for m in records[0].moves if m != 25)
    illegal = dataclasses.replace(records[0], moves=(first, first) + records[0].moves[2:])
    other_size = dataclasses.replace(records[1], size=7, ownership=())
    _write_shard(tmp_path, [illegal, records[2], other_size])
    window = ReplayWindow(cfg.replay, FEATURES, board_size=5)
    problems = window.restore(tmp_path)
    assert window.games_seen == 1 and len(window.games) == 1
    assert [(p.offset > 0, p.games_lost) for p in problems] == [(False, 1), (True, 1)]
    assert "does not replay" in problems[0].what and "7x7 board" in problems[1].what
    planes = window.sample(8)[0]  # every game left fits the batch
    assert planes.shape == (8, 17, 5, 5)


# ---------------------------------------------------------------------- ownership target ---

def _stored_position(window, planes):
    """(game, position) of the window whose planes are ``planes`` (the first such)."""
    for g, game in enumerate(window.games):
        for i, p in enumerate(game.planes):
            if np.array_equal(p, planes):
                return g, i
    raise AssertionError("sampled planes are not in the window")


def test_sample_gives_the_final_ownership_for_the_player_to_move(cfg, records):
    window = ReplayWindow(dataclasses.replace(cfg.replay, symmetries=False), FEATURES, seed=4)
    window.add(records[0])
    planes, _, _, ownership, mask = window.sample(32)
    assert ownership.shape == (32, 5, 5) and ownership.dtype == np.float32
    assert mask.tolist() == [1.0] * 32
    full = [i for i, f in enumerate(records[0].full_search) if f]
    movers = _movers(records[0])
    black_view = np.array(records[0].ownership, np.float32).reshape(5, 5)
    drawn_movers = set()
    for p, own in zip(planes, ownership):
        _, row = _stored_position(window, p)
        np.testing.assert_array_equal(own, movers[full[row]] * black_view)
        drawn_movers.add(movers[full[row]])
    assert drawn_movers == {1, -1} and black_view.any()


def test_symmetries_turn_planes_policy_and_ownership_alike(cfg, records):
    window = ReplayWindow(cfg.replay, FEATURES, seed=5)
    for r in records:
        window.add(r)
    planes, policy, _, ownership, _ = window.sample(48)
    for p, pol, own in zip(planes, policy, ownership):
        matches = [(g, i, k) for g, game in enumerate(window.games) for i in range(len(game.values))
                   for k in range(8) if np.array_equal(apply_to_planes(game.planes[i], k), p)
                   and np.array_equal(apply_to_policy(game.policies[i], k, 5), pol)]
        assert matches
        assert any(np.array_equal(apply_to_planes(window.games[g].movers[i] * window.games[g].ownership, k), own)
                   for g, i, k in matches)


def test_games_recorded_without_ownership_train_masked(cfg, records):
    window = ReplayWindow(dataclasses.replace(cfg.replay, symmetries=False), FEATURES, seed=6)
    window.add(dataclasses.replace(records[0], ownership=()))  # as a version 1 record reads
    window.add(records[1])
    planes, _, _, ownership, mask = window.sample(64)
    for p, own, m in zip(planes, ownership, mask):
        g, _ = _stored_position(window, p)
        assert m == (0.0 if g == 0 else 1.0)
        if g == 0:
            assert not own.any()
    assert set(mask.tolist()) == {0.0, 1.0}
