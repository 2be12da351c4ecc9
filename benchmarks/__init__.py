"""Benchmarks: scripts that print each figure beside its target and a baseline (not tests)."""
