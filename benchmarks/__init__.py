"""Benchmarks of HAR Studio against a faithful re-implementation of the paper's procedure."""
