"""Benchmarks; each module runs on its own (`python bench/gateway.py --help`)."""
