"""Benchmarks: ``python -m bench`` (``make bench``) runs the scale suite; see bench/__main__.py."""
