"""Learner: training step (trainer.py), checkpoint store, progress reporting and the training driver
(loop.py, which needs Ray)."""
