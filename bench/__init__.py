"""Benchmarks: each `*_bench.py` module is a script that prints its figures."""
