"""Benchmarks behind `alphago-lite bench` (Ray-free ones; the Ray ones live in actors/)."""
