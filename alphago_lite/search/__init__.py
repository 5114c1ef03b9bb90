"""Batched PUCT search: trees as arrays (tree.py), compiled round steps (kernels.py), and the
Python driver that keeps two batches of leaves in flight (searcher.py)."""
from alphago_lite.search.searcher import BatchedSearch, RootStats, params_vector

__all__ = ["BatchedSearch", "RootStats", "params_vector"]
