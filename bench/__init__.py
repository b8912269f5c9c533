"""Benchmarks of the DataHem compiler (see bench/README.md); run from the repository root."""
