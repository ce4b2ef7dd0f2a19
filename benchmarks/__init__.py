"""Benchmarks for issue #4 (performance): the seed's algorithm, made correct, vs backupwatch;
for issue #7 (scale): one account-region per Map child against one function checking them
all in turn; and for issue #18: the client's own CPU per tenant against a minimal client.

Run ``python -m benchmarks.run --help``, ``python -m benchmarks.scale --help`` and
``python -m benchmarks.cpu --help``. The first two run against moto in-process; the third
against a moto server on 127.0.0.1, each client in a process of its own. Nothing reaches the
network beyond the machine. See ``docs/performance.md`` and ``docs/scale.md`` for the figures
and how to read them.
"""
