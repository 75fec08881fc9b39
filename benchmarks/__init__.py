"""Benchmarks comparing kookoo with the alternatives in one run: ``python -m benchmarks``."""
