"""``BatchedSearch``: PUCT or Gumbel search over many games at once, with two batches of leaves in flight.

Each game slot holds a root position (copied from a ``Game``) and a tree. ``search(targets)`` runs
rounds until every slot's root has its target visits:

    collect batch A (all slots, under virtual loss) -> evaluate A in the background
    collect batch B while A evaluates               -> evaluate B in the background
    wait A, apply A, collect A again ...; wait B, apply B, collect B again ...

so the CPU keeps selecting while the network evaluates (AlphaGo's asynchronous policy-and-value
search). With ``threads > 1`` the slots are split into ranges, and each thread runs this pipeline over
its own range with its own share of both batches (the kernels are compiled with ``nogil``): threads
never wait for each other, only for their own evaluations. A single slot is the low-latency mode for
play: both batches then come from one tree, kept apart by virtual loss.

One slot and ``threads > 1`` (play, analysis): tree parallelism. Every thread runs the same pipeline on
the one tree at once, without a lock (tree.py and kernels.py say how): it gathers a small batch of
leaves under virtual loss, has it evaluated, expands and backs up its own leaves. Each thread has its
own two batches and scratch arrays, on cache lines of their own (cache_lines.py). The threads together
reach the target exactly. Their batches go to the evaluator as they come: called in the thread itself
when it answers at once, one request per batch when it is re-entrant (the Ray client), else merged by
one evaluation thread (``MergingEvaluations``) into a forward per round of requests. The threads other
than the caller are ``TreeThreads``, which stay awake between searches (tree_threads.py says why).

Gumbel search (``cfg.algorithm == "gumbel"``, see gumbel.py) plans each slot's search before it runs:
``start_gumbel(slot, n, rng)`` fixes its n simulations (child visits, on top of any reused ones) and
its root noise, and returns the root visits that ``search`` must reach. A slot that ``search`` finds
without a plan gets a noise-free one for the visits its target asks for. The plan ends when the root
changes (``set_root``, ``advance``); visits beyond it follow the interior rule at the root too.
"""
from __future__ import annotations

import functools
import threading
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from alphago_lite.config import SearchConfig
from alphago_lite.go import Game, core
from alphago_lite.net.evaluator import Evaluator
from alphago_lite.net.features import get_feature_set
from alphago_lite.search import gumbel, kernels, tree
from alphago_lite.search.cache_lines import own_lines
from alphago_lite.search.merging import MergingEvaluations
from alphago_lite.search.tree_threads import TreeThreads

PROGRESS_WAIT_SECONDS = 0.001  # longest wait of a tree thread blocked by the others' pending leaves
# a tree thread's chunk of node ids (tree.allocate_from), in expansions of every legal move: 16 make
# one chunk of ~1,300 ids on 9x9, against ~33,000 ids a search of 800 simulations takes there
CHUNK_MOVES = 16
STALL_SHARE = 4  # tree threads hold at most 1 / STALL_SHARE of the root's visits pending (kernels.collect_shared)
# Tree threads spin (in nogil kernels, so without the GIL) rather than sleep for waits of a round or
# less: a sleep and a wake-up through a condition cost tens of microseconds on a virtual machine, as
# long as a round of the uniform evaluator (measured: 2 threads on one tree 1.2x one thread without
# the spins, 1.4x with them, same process, 9x9, 800 simulations per move).
COLLISION_SPIN_LOADS = 2000  # on the leaf another thread is evaluating (kernels.wait_while_pending)
PROGRESS_SPIN_LOADS = 100000  # until any thread backs up, before the condition (kernels.wait_for_visits)
# Threads in compiled rounds (the uniform evaluator) back up only as their next round starts, a round
# (~100 microseconds) after they gathered, and they notify no condition until their search ends: a
# thread spins about 2 ms (1 ns a load here) before it sleeps, so that only a preempted thread makes it.
COMPILED_PROGRESS_SPIN_LOADS = 2_000_000
# At a search's end with an evaluator that answers at once, the calling thread spins until the other
# tree threads have left rather than sleep (tree_threads.py); behind a net's forward it would only take
# CPU from the forward.
AT_ONCE_END_SPIN_LOADS = 2_000_000


def resident_searches(compiled_args: list[tuple], outcomes: np.ndarray):
    """TreeThreads' resident call for the uniform evaluator's searches: helper k serves them in compiled
    code with its own arguments. It holds arrays only, not the search object (tree_threads.py)."""
    def resident(k: int, generation: np.ndarray, seen: int, spin_loads: int, running: np.ndarray):
        return kernels.serve_shared_uniform(generation, seen, spin_loads, running, outcomes[k], *compiled_args[k])
    return resident


@dataclass(frozen=True)
class RootStats:
    """What a finished search says about one root."""
    visits: np.ndarray        # int32 [N+1] visits per move (pass last)
    priors: np.ndarray        # float32 [N+1] prior of each root move (0 where no child)
    q: np.ndarray             # float32 [N+1] mean value of each root move for the player to move
    value: float              # root value for the player to move, in [-1, 1]
    total_visits: int
    best_move: int = -1       # the move to play: the most visited (PUCT), Sequential Halving's (Gumbel)
    improved_policy: np.ndarray | None = None  # float32 [N+1] pi' (Gumbel only): the policy target


def params_vector(cfg: SearchConfig, komi: float) -> np.ndarray:
    params = np.zeros(tree.NUM_PARAMS, np.float64)
    params[tree.P_C_PUCT] = cfg.c_puct
    params[tree.P_C_BASE] = cfg.c_puct_base
    params[tree.P_LOG_GROWTH] = 1.0 if cfg.c_puct_log_growth else 0.0
    params[tree.P_FPU] = cfg.fpu_reduction
    params[tree.P_VIRTUAL_LOSS] = cfg.virtual_loss
    params[tree.P_KOMI] = komi
    params[tree.P_PASS_ONLY_WHEN_NEEDED] = 1.0 if cfg.pass_only_when_needed else 0.0
    params[tree.P_ALGORITHM] = tree.GUMBEL if cfg.algorithm == "gumbel" else tree.PUCT
    params[tree.P_CONSIDERED] = cfg.gumbel_considered
    params[tree.P_C_VISIT] = cfg.c_visit
    params[tree.P_C_SCALE] = cfg.c_scale
    return params


class BatchedSearch:
    """Trees for ``slots`` games of one board size and rule set, searched together."""

    def __init__(self, evaluator: Evaluator, cfg: SearchConfig, *, slots: int, size: int, komi: float,
                 max_moves: int, max_simulations: int | None = None, threads: int | None = None):
        self.evaluator, self.cfg, self.slots, self.size = evaluator, cfg, slots, size
        self.moves = size * size + 1
        requested = max(1, threads or cfg.threads)
        # the uniform evaluator's answers are computed in the tree threads' compiled rounds
        self._uniform = bool(evaluator.answers_uniformly)
        # one game and several threads (the play mode): they all search its tree (tree parallelism);
        # with the uniform evaluator one thread too, so that its whole search is one compiled call
        self.shared_tree = slots == 1 and (requested > 1 or self._uniform)
        self.threads = requested if self.shared_tree else min(requested, slots)
        self.params = params_vector(cfg, komi)
        self.leaves = cfg.leaves_per_round
        sims = max_simulations or cfg.num_simulations
        # every expansion adds at most `moves` children; reuse keeps a subtree of earlier searches
        self._search_room = (sims + 2 * self.leaves + 1) * self.moves  # nodes one search may add, at most
        # on one tree, each thread's expansions take their ids from chunks of its own (tree.allocate_from):
        # every chunk but a thread's last holds more than chunk - moves of them, and is spent whole
        chunk = CHUNK_MOVES * self.moves
        if self.shared_tree:
            self._search_room = (self._search_room // (chunk - self.moves + 1) + 1 + self.threads) * chunk
        capacity = 2 + 2 * self._search_room
        self.ti, self.tf, self.meta = tree.new_trees(slots, capacity)
        self._tmp_i = np.zeros_like(self.ti[0])
        self._tmp_f = np.zeros_like(self.tf[0])
        self.root_states = np.zeros((slots, core.state_length(size)), np.int32)
        self.root_hists = np.zeros((slots, max_moves + 2, 4), np.uint64)
        self.max_moves = max_moves
        self.gumbel = cfg.algorithm == "gumbel"
        # each slot's Gumbel plan (see the module docstring): noise g per move, visits per move when the
        # search started, simulations of the search (0: no plan)
        self.root_gumbel = np.zeros((slots, self.moves), np.float64)
        self.root_base = np.zeros((slots, self.moves), np.int64)
        self.root_budget = np.zeros(slots, np.int64)
        fs = get_feature_set(evaluator.feature_set)
        self.fs_id = fs.kernel_id if evaluator.needs_planes else -1
        planes_shape = (fs.num_planes, size, size)
        # two batches of leaves; on one tree, two per thread: a thread's rows on cache lines of its own
        self.batches = [kernels.empty_batch(slots * self.leaves, planes_shape, self.moves)
                        for _ in range(2)] if not self.shared_tree else []
        self._thread_batches = [[kernels.empty_batch(self.leaves, planes_shape, self.moves) for _ in range(2)]
                                for _ in range(self.threads)] if self.shared_tree else []
        # per thread: scratch position, scratch history, PUCT scores (written at every step of a walk)
        self.scratch = [(own_lines(core.state_length(size), np.int32),
                         own_lines((max_moves + 2, 4), np.uint64), own_lines(self.moves, np.float64))
                        for _ in range(self.threads)]
        bounds = np.linspace(0, slots, self.threads + 1).round().astype(int)
        self.ranges = [(int(bounds[i]), int(bounds[i + 1])) for i in range(self.threads)]
        if self.shared_tree:  # every thread searches slot 0, in its own two batches
            self.ranges = [(0, 1)] * self.threads
        self._claimed = own_lines(1, np.int64)  # simulations taken in the shared tree (its root's N + VL)
        self._chunks = [own_lines(3, np.int64) for _ in range(self.threads)] if self.shared_tree else []
        for own in self._chunks:
            own[tree.C_SIZE] = chunk
        self._progress = threading.Condition()  # notified when a tree thread applied a batch
        self._waiting = 0  # tree threads waiting on it
        # the other threads' ranges of games, or the other tree threads (awake between searches)
        self._pool = ThreadPoolExecutor(self.threads - 1) if self.threads > 1 and not self.shared_tree else None
        # In-process evaluators (pinned buffers, CUDA graphs) are not re-entrant: one evaluation thread.
        # A re-entrant one (the Ray client) gets one per batch in flight, so that each thread's
        # requests travel at the same time instead of queueing behind each other's round trips.
        self._eval_pool = ThreadPoolExecutor(2 * self.threads if evaluator.reentrant else 1)
        # tree threads' batches to an evaluator that is not re-entrant: merged into one forward
        self._merged = MergingEvaluations(evaluator) \
            if self.shared_tree and not evaluator.reentrant and not evaluator.answers_at_once else None
        self._failed = threading.Event()  # set by a search thread that raised: the others stop
        self._stop = own_lines(1, np.int64)  # the same, for threads inside kernels.search_shared_uniform
        self.evaluations_by_range = [0] * self.threads  # one counter per thread: no shared +=
        # an evaluator that answers at once (the uniform one) is called in the search thread itself:
        # handing it to the evaluation thread would only add a thread switch per round
        self._answers_at_once = bool(evaluator.answers_at_once)
        # the uniform evaluator's searches in compiled code (kernels.search_shared_uniform): the target and
        # Gumbel budget of the current search, each thread's arguments, and per helper (one 64-byte row
        # each) what its resident call counted: evaluations, and how a search it handed back ended
        self._plan = own_lines(2, np.int64)
        self._compiled_args = [self._compiled_arguments(i) for i in range(self.threads)] \
            if self._uniform and self.shared_tree else []
        self._outcomes = own_lines((self.threads, 8), np.int64)
        self._outcomes[:, kernels.OUTCOME_HOW] = kernels.NO_OUTCOME
        # the other tree threads, awake between searches; with the uniform evaluator their searches run
        # in compiled code from one search to the next (TreeThreads' resident call)
        self._tree_threads = None
        if self.threads > 1 and self.shared_tree:
            resident = resident_searches(self._compiled_args, self._outcomes) if self._uniform else None
            self._tree_threads = TreeThreads(self.threads - 1, resident=resident)

    # ------------------------------------------------------------------------- positions ---
    def set_root(self, slot: int, game: Game, keep_tree: bool = False) -> None:
        """Search ``game``'s current position in this slot (dropping its tree unless keep_tree)."""
        state, hist = game.raw_position()
        t = game.move_number
        if game.max_moves > self.max_moves:
            raise ValueError(f"game allows {game.max_moves} moves, the search was built for "
                             f"{self.max_moves}")
        self.root_states[slot] = state
        self.root_hists[slot, :t + 1] = hist[:t + 1]
        self._drop_plan(slot)
        if not keep_tree:
            tree.clear(self.ti[slot], self.tf[slot], self.meta[slot])

    def advance(self, slot: int, game: Game, move: int) -> None:
        """``move`` was just played in ``game``: keep its subtree (tree reuse) or start afresh."""
        child = tree.child_for_move(self.ti[slot], self.meta[slot], move) if self.cfg.reuse_tree else -1
        tree.reroot(self.ti[slot], self.tf[slot], self.meta[slot], child, self._tmp_i, self._tmp_f,
                    self._search_room)
        self.set_root(slot, game, keep_tree=True)

    def root_expanded(self, slot: int) -> bool:
        root = self.meta[slot, tree.M_ROOT]
        return self.ti[slot, root, tree.I_STATUS] == tree.EXPANDED

    def root_visits(self, slot: int) -> int:
        return int(self.ti[slot, self.meta[slot, tree.M_ROOT], tree.I_N])

    def add_root_noise(self, slot: int, rng: np.random.Generator, alpha: float, weight: float) -> None:
        """Mix Dirichlet noise into the root priors (self-play exploration, AlphaGo Zero)."""
        root = self.meta[slot, tree.M_ROOT]
        first, count = self.ti[slot, root, tree.I_FIRST], self.ti[slot, root, tree.I_NCHILD]
        if count <= 0 or weight <= 0:
            return
        noise = rng.dirichlet([alpha] * count)
        priors = self.tf[slot, first:first + count, tree.F_P]
        self.tf[slot, first:first + count, tree.F_P] = (1 - weight) * priors + weight * noise

    # ------------------------------------------------------------------------ gumbel plan ---
    def start_gumbel(self, slot: int, simulations: int, rng: np.random.Generator | None = None) -> int:
        """Plan a Gumbel search of ``simulations`` child visits at this slot's root, with Gumbel noise
        from ``rng`` (self-play) or none (play). Returns the root visits ``search`` must reach: those
        already there, plus the root's own evaluation when it has none yet, plus ``simulations``."""
        if not self.gumbel:
            raise ValueError("start_gumbel needs search.algorithm 'gumbel', this search runs "
                             f"{self.cfg.algorithm!r}")
        if simulations < 1:
            raise ValueError(f"a Gumbel search needs at least 1 simulation, got {simulations}")
        self._drop_plan(slot)
        root = self.meta[slot, tree.M_ROOT]
        first, count = self.ti[slot, root, tree.I_FIRST], max(self.ti[slot, root, tree.I_NCHILD], 0)
        kids = np.arange(first, first + count)
        self.root_base[slot, self.ti[slot, kids, tree.I_MOVE]] = self.ti[slot, kids, tree.I_N]
        if rng is not None:
            self.root_gumbel[slot] = rng.gumbel(size=self.moves)
        self.root_budget[slot] = simulations
        own_evaluation = 0 if self.root_expanded(slot) else 1
        return self.root_visits(slot) + own_evaluation + simulations

    def _drop_plan(self, slot: int) -> None:
        self.root_gumbel[slot] = 0.0
        self.root_base[slot] = 0
        self.root_budget[slot] = 0

    def _plan_unplanned(self, targets: np.ndarray) -> None:
        """A noise-free plan for each slot searched without one, spending what its target asks for."""
        for slot in np.flatnonzero((targets > 0) & (self.root_budget == 0)):
            own_evaluation = 0 if self.root_expanded(slot) else 1
            simulations = int(targets[slot]) - self.root_visits(slot) - own_evaluation
            if simulations > 0:
                self.start_gumbel(int(slot), simulations)

    # ---------------------------------------------------------------------------- search ---
    def search(self, targets: np.ndarray) -> None:
        """Run until each slot's root has ``targets[slot]`` visits (0: leave the slot alone).
        Each search thread runs its own pipeline over its range of slots, with no barrier between the
        threads: one that finishes a round early goes on instead of waiting for the other."""
        targets = np.asarray(targets, np.int64)
        if self.gumbel:
            self._plan_unplanned(targets)
        self._failed.clear()
        self._stop[0] = 0
        if self.shared_tree:
            self._claimed[0] = self.root_visits(0)  # no virtual loss is left between searches
            self._plan[kernels.PLAN_TARGET] = targets[0]
            self._plan[kernels.PLAN_BUDGET] = self.root_budget[0]
            try:
                if self._tree_threads is None:
                    self._search_shared_tree(0, targets)
                else:  # returns only once every tree thread has finished, error or not
                    self._tree_threads.run(functools.partial(self._search_shared_tree, targets=targets),
                                           AT_ONCE_END_SPIN_LOADS if self._answers_at_once else 0)
            finally:  # compiled rounds release their own chunk as they end (kernels.search_shared_uniform)
                for own in self._chunks:
                    if own[tree.C_END]:
                        tree.release_chunk(self.ti[0], self.meta[0], own)
            return
        others = [self._pool.submit(self._search_range, i, targets) for i in range(1, self.threads)] \
            if self._pool else []
        try:
            self._search_range(0, targets)  # the calling thread takes the first range itself
        finally:
            # never return while another thread still changes the trees, error or not
            futures.wait(others)
        for future in others:
            future.result()

    def _search_range(self, i: int, targets: np.ndarray) -> None:
        """Rounds over range i's slots, alternating its two batches, until they reach their targets
        or another thread failed (its error is raised by ``search``)."""
        g0, g1 = self.ranges[i]
        pending = [None, None]
        try:
            while not self._failed.is_set():
                for which in (0, 1):
                    pending[which] = self._round(i, which, targets, pending[which])
                    if pending[0] is None and pending[1] is None \
                            and kernels.games_done(self.ti[g0:g1], self.meta[g0:g1], targets[g0:g1]):
                        return
        except BaseException:
            self._fail()
            raise

    def _round(self, i: int, which: int, targets: np.ndarray, pending):
        """Range i: apply its batch ``which``'s evaluations (if any), gather that batch again and send
        it off. Range i owns batch rows [g0 * leaves, g1 * leaves) of both batches."""
        planes, legal, nodes, games = self.batches[which]
        g0, g1 = self.ranges[i]
        row0 = g0 * self.leaves
        if pending is not None:
            count, future = pending
            policy, values = future.result()
            kernels.apply_games(self.ti, self.tf, self.meta, games, nodes, legal, policy, values,
                                np.arange(row0, row0 + count), row0)
            self.evaluations_by_range[i] += count
        wstate, whist, scores = self.scratch[i]
        count = kernels.collect_games(
            self.ti, self.tf, self.meta, self.root_states, self.root_hists, targets, self.root_gumbel,
            self.root_base, self.root_budget, g0, g1, wstate, whist, self.params, self.fs_id, self.leaves,
            planes, legal, nodes, games, row0, scores)
        if count == 0:
            return None
        return count, self._evaluate(planes[row0:row0 + count], legal[row0:row0 + count])

    def _evaluate(self, planes: np.ndarray, legal: np.ndarray) -> futures.Future:
        """Send a batch off: answered at once in this thread, merged with other tree threads' batches,
        or handed to an evaluation thread."""
        if self._answers_at_once:
            answered = futures.Future()
            answered.set_result(self.evaluator.evaluate(planes, legal))
            return answered
        if self._merged is not None:
            return self._merged.submit(planes, legal)
        return self._eval_pool.submit(self.evaluator.evaluate, planes, legal)

    # --------------------------------------------------------------- one tree, many threads ---
    def _search_shared_tree(self, i: int, targets: np.ndarray) -> None:
        """Thread i's rounds on the shared tree of slot 0 until the threads have taken every simulation
        of the target and this thread has none pending, or another thread failed."""
        target = int(targets[0])
        if target <= 0:
            return
        try:
            if self._uniform:
                self._shared_rounds_compiled(i, target)
            elif self._answers_at_once:
                self._shared_rounds_at_once(i, target)
            else:
                self._shared_rounds_pipelined(i, target)
        except BaseException:
            self._fail()
            raise
        finally:
            self._notify_progress()  # a thread that leaves (or fails) may unblock the others

    def _shared_steps(self, i: int, which: int, target: int):
        """Thread i's two kernels on batch ``which``, their arguments bound: ``collect()`` gathers
        leaves into thread i's batch ``which`` and returns (rows, scored, collided);
        ``apply(policy, values, rows)`` expands those rows and backs them up."""
        planes, legal, nodes, _ = self._thread_batches[i][which]
        wstate, whist, scores = self.scratch[i]
        ti, tf, meta = self.ti[0], self.tf[0], self.meta[0]
        collect = functools.partial(
            kernels.collect_shared, ti, tf, meta, self._claimed, self.root_states[0], self.root_hists[0], target,
            self.root_gumbel[0], self.root_base[0], self.root_budget[0], wstate, whist, self.params, self.fs_id,
            self.leaves, STALL_SHARE * self.threads, planes, legal, nodes, 0, scores)
        # ``collect(spin_loads)``: spin on a collision only when the caller has no leaf of its own pending
        apply = functools.partial(kernels.apply_shared, ti, tf, meta, self._chunks[i], nodes, legal, 0)
        return collect, apply, planes, legal  # the thread's own batch: its rows are all this thread's

    def _shared_rounds_at_once(self, i: int, target: int) -> None:
        """Gather a batch and have it answered in this thread; apply it in the same compiled call that
        gathers the next (its leaves hold virtual loss no longer than that), again and again."""
        collect, apply, planes, legal = self._shared_steps(i, 0, target)
        # collect's arguments, and after them the last round's answers (kernels.apply_then_collect_shared)
        step = functools.partial(kernels.apply_then_collect_shared, *collect.args)
        policy, values = np.zeros((0, self.moves), np.float32), np.zeros(0, np.float32)
        applied = 0
        while not self._failed.is_set():
            # nothing of ours is pending once the last round is applied: the walks may spin on a collision
            count, scored, collided = step(policy, values, applied, self._chunks[i], COLLISION_SPIN_LOADS)
            if applied:
                self.evaluations_by_range[i] += applied
                self._notify_progress()
                applied = 0
            if count:
                policy, values = self.evaluator.evaluate(planes[:count], legal[:count])
                applied = count
            elif self._shared_tree_done(target, scored, collided):
                return
        if applied:  # another thread failed: leave no leaf of ours pending
            apply(policy, values, applied)

    def _compiled_arguments(self, i: int) -> tuple:
        """Thread i's arguments of kernels.search_shared_uniform (the same from one search to the next:
        the target and budget are read from self._plan)."""
        planes, legal, nodes, _ = self._thread_batches[i][0]
        wstate, whist, scores = self.scratch[i]
        policy = own_lines((self.leaves, self.moves), np.float32)
        values = own_lines(self.leaves, np.float32)
        return (self.ti[0], self.tf[0], self.meta[0], self._claimed, self.root_states[0], self.root_hists[0],
                self._plan, self.root_gumbel[0], self.root_base[0], wstate, whist, self.params, self.fs_id,
                self.leaves, STALL_SHARE * self.threads, planes, legal, nodes, 0, scores, policy,
                values, self._chunks[i], self._stop, COLLISION_SPIN_LOADS, COMPILED_PROGRESS_SPIN_LOADS)

    def _shared_rounds_compiled(self, i: int, target: int) -> None:
        """The uniform evaluator: thread i's rounds run in compiled code (kernels.search_shared_uniform),
        which comes back here only to wait for slow threads, to stop, or to raise the evaluator's error.
        A helper's search that its resident call handed back goes on here from where that ended."""
        outcome = self._outcomes[i]
        while True:
            if outcome[kernels.OUTCOME_HOW] != kernels.NO_OUTCOME:
                how, evaluations, pending = int(outcome[kernels.OUTCOME_HOW]), 0, int(outcome[kernels.OUTCOME_PENDING])
                outcome[kernels.OUTCOME_HOW] = kernels.NO_OUTCOME
            else:
                how, evaluations, pending = kernels.search_shared_uniform(*self._compiled_args[i])
            self.evaluations_by_range[i] += evaluations
            self._notify_progress()
            if how == kernels.RUN_NO_LEGAL_MOVE:  # evaluate raises the evaluator's own error
                _, apply, planes, legal = self._shared_steps(i, 0, target)
                apply(*self.evaluator.evaluate(planes[:pending], legal[:pending]), pending)
                self.evaluations_by_range[i] += pending
            elif how == kernels.RUN_STALLED:
                self._wait_for_progress()
            else:  # RUN_DONE, or RUN_STOPPED by another thread's failure (search raises it)
                return

    def _shared_rounds_pipelined(self, i: int, target: int) -> None:
        """Two batches in flight: apply one's evaluations, gather it again and send it off; then the
        other. The thread gathers while its evaluations run (as ``_search_range`` does)."""
        steps = [self._shared_steps(i, which, target) for which in (0, 1)]
        pending = [None, None]
        try:
            while not self._failed.is_set():
                for which, (collect, apply, planes, legal) in enumerate(steps):
                    if pending[which] is not None:
                        count, future = pending[which]
                        pending[which] = None
                        policy, values = future.result()
                        apply(policy, values, count)
                        self.evaluations_by_range[i] += count
                        self._notify_progress()
                    count, scored, collided = collect()
                    if count:
                        pending[which] = count, self._evaluate(planes[:count], legal[:count])
                    elif pending[1 - which] is None and self._shared_tree_done(target, scored, collided):
                        return
        finally:  # stopped by an error: no evaluation of ours may still run when search() returns
            futures.wait([future for _, future in filter(None, pending)])

    def _shared_tree_done(self, target: int, scored: int, collided: bool) -> bool:
        """For a thread with no leaf pending whose last gathering found none: True when the threads
        have taken every simulation; else, unless it scored finished games, wait until another thread
        has made progress (its walks ended on their pending leaves)."""
        if self._claimed[0] >= target and not collided:
            return True
        if not scored:
            root = int(self.meta[0, tree.M_ROOT])
            seen = int(self.ti[0, root, tree.I_N])
            # only when the others' backups are a round away: behind a net's forward (milliseconds) the
            # spin would time out, taking CPU from the evaluation
            if self._answers_at_once and kernels.wait_for_visits(self.ti[0], root, seen, PROGRESS_SPIN_LOADS):
                return False
            self._wait_for_progress()
        return False

    def _wait_for_progress(self) -> None:
        """Sleep until another tree thread applies a batch, at most PROGRESS_WAIT_SECONDS."""
        with self._progress:
            self._waiting += 1
            self._progress.wait(PROGRESS_WAIT_SECONDS)  # bounded: a notification may come just before
            self._waiting -= 1

    def _fail(self) -> None:
        """A search thread raised: every other one stops, in Python and in compiled rounds."""
        self._failed.set()
        self._stop[0] = 1

    def _notify_progress(self) -> None:
        if self._waiting:  # read without the lock: a wait missed this way ends at its timeout
            with self._progress:
                self._progress.notify_all()

    @property
    def evaluations(self) -> int:
        """Positions evaluated by the network so far (all threads)."""
        return sum(self.evaluations_by_range) + int(self._outcomes[:, kernels.OUTCOME_EVALUATIONS].sum())

    # --------------------------------------------------------------------------- results ---
    def stats(self, slot: int) -> RootStats:
        ti, tf = self.ti[slot], self.tf[slot]
        root = self.meta[slot, tree.M_ROOT]
        visits = np.zeros(self.moves, np.int32)
        priors = np.zeros(self.moves, np.float32)
        q = np.zeros(self.moves, np.float32)
        value = float(tree.root_stats(ti, tf, root, visits, priors, q))
        if not self.gumbel:
            return RootStats(visits, priors, q, value, int(ti[root, tree.I_N]), int(np.argmax(visits)))
        improved = np.zeros(self.moves, np.float32)
        scratch = np.zeros(self.moves, np.float64)
        first, count = ti[root, tree.I_FIRST], max(ti[root, tree.I_NCHILD], 0)
        if count:
            gumbel.improved_policy(ti, tf, root, self.params, scratch)
            improved[ti[first:first + count, tree.I_MOVE]] = scratch[:count]
        best = gumbel.choose_move(ti, tf, root, self.params, self.root_gumbel[slot], self.root_base[slot],
                                  scratch)
        return RootStats(visits, priors, q, value, int(ti[root, tree.I_N]),
                         int(best) if best >= 0 else int(np.argmax(visits)), improved)

    def principal_variation(self, slot: int, move: int, max_length: int = 20) -> list[int]:
        child = tree.child_for_move(self.ti[slot], self.meta[slot], move)
        if child < 0:
            return [move]
        out = np.zeros(max_length, np.int64)
        length = kernels.principal_variation(self.ti[slot], child, out)
        return [int(m) for m in out[:length]]

    def pending_virtual_loss(self, slot: int) -> int:
        return int(tree.pending_virtual_loss(self.ti[slot], self.meta[slot]))

    def close(self) -> None:
        if self._pool:
            self._pool.shutdown()
        if self._tree_threads:
            self._tree_threads.close()
        self._eval_pool.shutdown()
        if self._merged is not None:
            self._merged.close()
