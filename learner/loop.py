"""The training driver: the AlphaZero loop on a Ray cluster, resumable from its run directory.

Places inference servers, search workers and the replay buffer as Ray actors; the learner trains in
this (driver) process, publishes weights to the inference servers every ``publish_every`` steps and
checkpoints every ``checkpoint_every`` steps. The run directory's layout is ``alphago_lite.run_dir``'s.
Evaluation matches play in their own actor (actors/evaluator.py): the loop submits one, trains on and
polls for its result every step; at most one is in flight (a scheduled one is skipped meanwhile, with
a note), and a run that ends normally waits for the one in flight so that its result is recorded.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import ray
import torch

from actors.cluster import connected, stop_selfplay
from actors.evaluator import start_evaluation_actor
from actors.inference import start_inference_servers
from actors.replay_buffer import start_replay_buffer
from actors.worker_pool import check_capacity, start_search_workers
from alphago_lite.config import Config, save_config
from alphago_lite.errors import UserError
from alphago_lite.net.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint, load_model
from alphago_lite.net.features import num_planes
from alphago_lite.net.model import build_model
from alphago_lite.run_dir import RunDir
from learner.checkpoints import CheckpointStore
from learner.progress import Progress
from learner.trainer import Trainer


@dataclasses.dataclass(frozen=True)
class PendingEvaluation:
    """A match in flight in the evaluation actor."""
    result: ray.ObjectRef     # of a MatchResult, newest first
    checkpoint: Path          # the newest weights' checkpoint, marked best if they pass
    weights: ray.ObjectRef    # the newest weights, published if they pass (gating)
    step: int                 # the learner's step when the match was submitted


class TrainingRun:
    """One run: owns the trainer, the actors and the run directory."""

    def __init__(self, cfg: Config, resume: bool = False, max_steps: int | None = None, quiet=False,
                 init_from: str | Path | None = None):
        if resume and init_from is not None:
            raise UserError("--init-from starts a new run from a net; --resume continues a run from its own "
                            "checkpoint: give one of them")
        self.cfg, self.run_dir = cfg, Path(cfg.run_dir)
        self.layout = RunDir.at(self.run_dir)
        self.store = CheckpointStore(self.layout.checkpoints, cfg.learner.keep_checkpoints)
        if not resume and self.store.latest() is not None:
            raise UserError(f"run directory {self.run_dir} already holds checkpoints: continue it "
                            f"with `alphago-lite train --resume {self.run_dir}` or choose another run_dir")
        self.store.remove_stale_temp_files()  # this run is the store's only writer
        save_config(cfg, str(self.run_dir))
        self.max_steps = cfg.learner.total_steps if max_steps is None else max_steps
        self.device = "cuda" if torch.cuda.is_available() and cfg.inference.device != "cpu" else "cpu"
        if self.device == "cpu" and cfg.learner.cpu_threads:
            torch.set_num_threads(cfg.learner.cpu_threads)  # see LearnerConfig.cpu_threads
        fs = cfg.model.feature_set
        torch.manual_seed(cfg.seed)  # before building the net: its initial weights follow the seed
        model = build_model(cfg.model, cfg.game.size, num_planes(fs))
        self.trainer = Trainer(model, cfg.learner, self.device)
        self.version = 0
        self.samples_trained = 0  # this process only: a resumed run starts its allowance afresh
        self.replay_rng: str | None = None  # the replay sampler's state, restored on resume
        self.resumed_from: Path | None = None  # the checkpoint this run continues from
        self.init_from: str | None = None  # the net this run was warm-started from (kept across resumes)
        init_meta = self._warm_start(Path(init_from)) if init_from is not None else None
        damaged = self._restore() if resume else []
        self.progress = Progress(self.layout.metrics_file, quiet=quiet)
        if init_meta is not None:
            self.progress.warm_start(init_meta.path, init_meta.step)
        for path, why in damaged:
            self.progress.note(f"checkpoint {path.name} is damaged ({why}); resuming from {self.resumed_from.name}")
        self.damaged_data_reported = 0  # damaged stored games the buffer found, reported so far
        self.servers = self.buffer = None
        self.starting_weights = self.published = None  # ObjectRefs of weights, once started
        self.workers = None
        self.evaluation_actor = None  # started with the first match (after self-play has its CPUs)
        self.evaluation: PendingEvaluation | None = None

    def _restore(self) -> list[tuple[Path, str]]:
        """Continue from the newest checkpoint that loads; returns the damaged newer ones (path, why)."""
        found = self.store.load_newest_readable()
        if found is None:
            return []
        state, meta, damaged = found
        self._check_fits_config(meta)
        try:
            self.trainer.model.load_state_dict(state)
        except RuntimeError as err:
            raise CheckpointError(f"checkpoint {meta.path}: its net does not fit the config's model section "
                                  f"({str(err).splitlines()[0]})") from None
        if meta.optimizer_state is not None:
            self.trainer.optimizer.load_state_dict(meta.optimizer_state)
        self.trainer.step = meta.step
        self.version = int(meta.extra.get("weights_version", 0))
        if "torch_rng" in meta.extra:
            torch.set_rng_state(meta.extra["torch_rng"])
        self.replay_rng = meta.extra.get("replay_rng")
        self.init_from = meta.extra.get("init_from")
        self.resumed_from = Path(meta.path)
        return damaged

    def _warm_start(self, path: Path) -> CheckpointMeta:
        """Start from the weights of the net in ``path`` (step 0, fresh optimizer and replay buffer);
        CheckpointError naming the mismatch when it does not fit the config."""
        state, meta = load_checkpoint(path)
        self._check_fits_config(meta)
        ours = self.trainer.model.arch()
        for key in sorted(set(ours) | set(meta.arch)):
            if ours.get(key) != meta.arch.get(key):
                raise CheckpointError(f"--init-from {path}: its net has {key} = {meta.arch.get(key)!r}, the "
                                      f"config's model section makes {ours.get(key)!r}")
        self.trainer.model.load_state_dict(state)
        self.init_from = str(path)
        return meta

    def _check_fits_config(self, meta: CheckpointMeta) -> None:
        """A checkpoint of another board size or feature set is the wrong run, not a damaged file."""
        size, fs = self.cfg.game.size, self.cfg.model.feature_set
        if (meta.board_size, meta.feature_set) != (size, fs):
            raise CheckpointError(f"checkpoint {meta.path}: trained for {meta.board_size}x{meta.board_size} "
                                  f"with feature set {meta.feature_set!r}; the config says {size}x{size}, {fs!r}")

    # --------------------------------------------------------------------------- actors ---
    def start(self) -> None:
        cfg, fs = self.cfg, self.cfg.model.feature_set
        check_capacity(cfg)  # a cluster too small for self-play would have the run wait for ever
        # the servers' weights store holds it too; a restarted server loads the store's newest
        self.starting_weights = self._put_weights()
        self.published = self.starting_weights
        self.servers = start_inference_servers(cfg.inference, self.trainer.model.arch(), fs,
                                               self.starting_weights, self.version)
        self.buffer = start_replay_buffer(self.layout.games, cfg.replay, fs, cfg.seed, self.replay_rng,
                                          board_size=cfg.game.size)
        self.workers = start_search_workers(cfg, self.servers, self.buffer,
                                            seed=cfg.seed + 1000 * self.trainer.step)

    def _put_weights(self) -> ray.ObjectRef:
        return ray.put({k: v.detach().cpu() for k, v in self.trainer.model.state_dict().items()})

    def publish(self, weights: ray.ObjectRef | None = None) -> None:
        """Send the trainer's weights (or ``weights``: those that passed a gating match) to the servers."""
        self.version += 1
        self.published = self._put_weights() if weights is None else weights
        self.servers.publish(self.version, self.published)

    def resync_servers(self) -> None:
        """Send the published weights again to any server behind them (a server restarted while a swap
        was in flight may have loaded the store's previous weights)."""
        stats = ray.get([s.stats.remote() for s in self.servers])
        behind = [s for s, st in zip(self.servers, stats) if st["weights_version"] != self.version]
        if behind:
            self.servers.publish(self.version, self.published, servers=behind)

    def checkpoint(self) -> Path:
        extra = {"weights_version": self.version, "torch_rng": torch.get_rng_state()}
        if self.init_from is not None:
            extra["init_from"] = self.init_from
        if self.replay_rng is not None:
            extra["replay_rng"] = self.replay_rng  # what the run resumed with, unless the buffer says more
        if self.buffer is not None:
            try:
                extra["replay_rng"] = ray.get(self.buffer.rng_state.remote(), timeout=30)
            except Exception as err:  # a lost sampler state must not cost the checkpoint itself
                self.progress.note(f"replay sampler state not saved: {err}")
        return self.store.save(self.trainer.model, self.cfg.model.feature_set, self.trainer.step,
                               self.trainer.optimizer.state_dict(), extra)

    # ----------------------------------------------------------------------------- loop ---
    def run(self) -> Path | None:
        """Train until max_steps (total_steps by default); Ctrl-C stops cleanly. Returns the last
        checkpoint's path (None when stopped during start-up of a run that has none)."""
        lc = self.cfg.learner
        # the budget counts from here, so that the actors' start-up is part of what a config costs
        deadline = None if lc.max_minutes is None else time.monotonic() + 60 * lc.max_minutes
        budget_spent = False
        next_batch = None
        started = False
        try:
            self.start()
            started = True
            while self.trainer.step < self.max_steps:
                if deadline is not None and time.monotonic() >= deadline:
                    self.progress.note(f"wall-clock budget of {lc.max_minutes:g} minutes spent at step "
                                       f"{self.trainer.step}: stopping")
                    budget_spent = True
                    break
                self.workers.check()
                self.poll_evaluation()
                buffer_stats = ray.get(self.buffer.stats.remote())
                self._report_damaged_data(buffer_stats)
                if not self._may_train(buffer_stats):
                    self.progress.waiting(self.trainer.step, buffer_stats)
                    time.sleep(0.2)
                    continue
                if next_batch is None:
                    next_batch = self.buffer.sample.remote(lc.batch_size)
                batch = ray.get(next_batch)
                next_batch = self.buffer.sample.remote(lc.batch_size)  # prefetch the next one
                losses = self.trainer.train_step(*batch)
                self.samples_trained += lc.batch_size
                step = self.trainer.step
                if step % lc.publish_every == 0:
                    if self.cfg.evaluation.gating:
                        self.resync_servers()  # with gating, only a net that passed its match is published
                    else:
                        self.publish()
                if step % lc.checkpoint_every == 0:
                    self.checkpoint()
                if self.cfg.evaluation.eval_every and step % self.cfg.evaluation.eval_every == 0:
                    self.evaluate()
                self.progress.step(step, self.max_steps, losses, buffer_stats, self._server_stats)
            # a spent budget does not wait for a match in flight: equal-time runs must end on time
            self.poll_evaluation(wait=not budget_spent)
            if self.evaluation is not None:
                self.progress.note(f"the evaluation match submitted at step {self.evaluation.step} is "
                                   "abandoned: the wall-clock budget is spent")
        except KeyboardInterrupt:
            self.progress.note("interrupted: writing a checkpoint and stopping the actors")
        finally:
            # stopped or failed during start-up: nothing was trained, and the checkpoint resumed from
            # (if any) is the one to resume from again; a new one would only mark a fresh run as started
            path = self.checkpoint() if started else self.resumed_from
            self.stop()
        return path

    def _report_damaged_data(self, buffer_stats: dict) -> None:
        """Damaged stored games the buffer skipped and that are not reported yet: once each."""
        if buffer_stats.get("damaged_data", 0) <= self.damaged_data_reported:
            return
        problems = ray.get(self.buffer.damaged_data.remote(self.damaged_data_reported))
        self.damaged_data_reported += len(problems)
        self.progress.damaged_data(self.trainer.step, problems)

    def _may_train(self, buffer_stats: dict) -> bool:
        lc = self.cfg.learner
        if buffer_stats["window_positions"] < max(lc.min_positions, 1):
            return False
        if lc.max_samples_per_position is None:
            return True
        # the cap counts positions of this process only: a resumed run starts its allowance afresh
        allowed = lc.max_samples_per_position * max(buffer_stats["positions_seen"], 1)
        return self.samples_trained < allowed

    def _server_stats(self) -> list:
        return ray.get([s.stats.remote(reset=True) for s in self.servers])

    def evaluate(self) -> None:
        """Submit a match of the newest weights against the best checkpoint so far (the first time:
        mark the newest best, there is nothing to play). ``poll_evaluation`` takes the result."""
        best = self.store.best()
        if best is None:
            self.store.mark_best(self.checkpoint())
            return
        if self.evaluation is not None:
            self.progress.note(f"step {self.trainer.step}: evaluation skipped, the match submitted at step "
                               f"{self.evaluation.step} is still playing")
            return
        if self.evaluation_actor is None:
            self.evaluation_actor, own_cpu = start_evaluation_actor(self.cfg)
            if not own_cpu:
                self.progress.note("evaluation matches share the CPUs of self-play (the cluster has none to spare)")
        opponent, _ = load_model(best)
        newest = self._put_weights()
        result = self.evaluation_actor.play.remote(self.trainer.model.arch(), newest, opponent.arch(),
                                                   opponent.state_dict(), self.trainer.step)
        self.evaluation = PendingEvaluation(result, self.checkpoint(), newest, self.trainer.step)

    def poll_evaluation(self, wait: bool = False) -> None:
        """Record the match in flight if it has ended (``wait``: once it ends): metrics, best.pt, and
        with gating the publish of the weights that played."""
        pending = self.evaluation
        if pending is None:
            return
        if wait:
            self.progress.note(f"waiting for the evaluation match submitted at step {pending.step}")
        done, _ = ray.wait([pending.result], timeout=None if wait else 0)
        if not done:
            return
        self.evaluation = None
        try:
            result = ray.get(pending.result)
        except ray.exceptions.RayError as err:  # a lost match costs its result, not the run
            self.progress.note(f"evaluation match of step {pending.step} failed: {str(err).splitlines()[0]}")
            self.evaluation_actor = None
            return
        ec = self.cfg.evaluation
        promoted = result.score >= ec.gating_threshold
        if promoted and pending.checkpoint.exists():
            self.store.mark_best(pending.checkpoint)
        elif promoted:
            self.progress.note(f"{pending.checkpoint.name} is gone (rotated out): best.pt stays as it was")
        if promoted and ec.gating:
            self.publish(pending.weights)
        self.progress.evaluation(self.trainer.step, result, promoted, submitted_step=pending.step)

    def stop(self) -> None:
        if self.evaluation_actor is not None:
            ray.kill(self.evaluation_actor)
        stop_selfplay(self.workers, self.servers, self.buffer, note=self.progress.note)
        self.progress.close()


def train(cfg: Config, resume: bool = False, max_steps: int | None = None,
          quiet: bool = False, init_from: str | Path | None = None) -> Path | None:
    run = TrainingRun(cfg, resume=resume, max_steps=max_steps, quiet=quiet, init_from=init_from)
    with connected(cfg.cluster):
        return run.run()
