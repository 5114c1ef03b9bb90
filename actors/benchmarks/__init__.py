"""The benchmarks that start Ray clusters (``alphago-lite bench inference | selfplay``); the Ray-free ones
(rules, search) live in ``alphago_lite.benchmarks``."""
