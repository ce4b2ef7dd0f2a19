"""The Lambda entry points that template.yaml deploys (not part of the installed package).

Each parses its event and environment, calls the library (``backupwatch.run_daily``, or a step
of ``backupwatch.pipeline.steps``), and returns. The logic lives in ``backupwatch``.
"""
