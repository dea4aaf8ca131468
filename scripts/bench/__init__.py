"""The benchmark behind ``scripts/benchmark.py``: cases, fake server, baseline, runs, report."""
