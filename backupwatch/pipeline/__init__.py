"""A run, composed from the core and the AWS edge: ``monitor`` checks the tenants, ``daily``
adds the archive, the status page and the digest, ``delivery`` sends it to every channel at
most once, ``steps`` are the state
machine's three steps, ``lambda_run`` what every Lambda handler shares, ``telemetry`` the
metrics and logs."""
