"""Benchmarks: ``make bench`` (cpu.py, results/bench/cpu.json) and ``make bench-gpu`` (gpu.py)."""
