"""A run, composed from the core and the AWS edge: ``monitor`` checks the tenants, ``daily``
adds the archive, the status page, the digest and the publish, ``steps`` are the state
machine's three steps, ``lambda_run`` what every Lambda handler shares, ``telemetry`` the
metrics and logs."""
