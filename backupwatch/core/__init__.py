"""The pure core: models, settings, rules, evaluation, digest, changes and rendering.

Nothing here calls AWS or imports boto3, and nothing reads the clock by itself: every function
is given what it needs and returns a value, so it is tested without AWS (``tests/test_layout.py``
keeps it that way). ``backupwatch.aws`` is the edge that talks to AWS; ``backupwatch.pipeline``
composes the two into a run.
"""
