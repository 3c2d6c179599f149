"""Benchmarks: measured figures live here, not in timed tests."""
