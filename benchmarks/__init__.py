"""Benchmarks for issue #4 (performance): the seed's algorithm, made correct, vs backupwatch;
and for issue #7 (scale): one account-region per Map child against one function checking them
all in turn.

Run ``python -m benchmarks.run --help`` and ``python -m benchmarks.scale --help``. Everything
runs against moto in-process; nothing reaches the network. See ``docs/performance.md`` and
``docs/scale.md`` for the figures and how to read them.
"""
