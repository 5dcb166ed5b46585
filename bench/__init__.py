"""Benchmarks, one module per area: ``python -m bench.seal``; ``python -m bench`` runs all."""
