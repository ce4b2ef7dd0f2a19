"""Benchmarks for issue #4 (performance): the seed's algorithm, made correct, vs backupwatch.

Run ``python -m benchmarks.run --help``. Everything runs against moto in-process; nothing
reaches the network. See ``docs/performance.md`` for the figures and how to read them.
"""
