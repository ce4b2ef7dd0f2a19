"""Thin entry points over the backupwatch library: the Lambda handler and the CLI.

They parse the event and environment, call the library, publish the one digest, and return a
summary. The library itself never sends anything; publishing lives here.
"""
