"""The AWS edge: every AWS call backupwatch makes is in one of these modules.

Clients and retries (``clients``, ``retry``, ``pagination``, ``ratelimit``), the listings that
gather evidence (``discovery``, ``rds_evidence``, ``s3_evidence``, ``accounts``), the reads
of a dump's bytes and attributes (``s3_integrity``), what is written (``archive``,
``fanout_store``, ``ledger``), and what is sent (``publish``, ``ses_email``, and ``webhook``,
the one edge that is not AWS, with its URLs read by ``secrets``). ``docs/iam.md``'s policy is
derived from them and ``tests/test_least_privilege.py`` proves it.
"""
