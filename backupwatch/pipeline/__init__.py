"""A run, composed from the core and the AWS edge: ``monitor`` checks the tenants, ``daily``
adds the archive, the status page, the digest and the publish, ``telemetry`` the metrics."""
