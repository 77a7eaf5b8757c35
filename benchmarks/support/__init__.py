"""Helpers of the benchmark scripts (not benchmarks themselves)."""
