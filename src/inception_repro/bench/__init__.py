"""Benchmarks: ``make bench`` (cpu.py, results/bench/cpu.json), ``make bench-gpu`` (gpu.py,
results/bench/gpu.json) and ``make probe`` (probe.py, results/bench/probes.json)."""
