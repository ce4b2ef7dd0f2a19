"""The ``backupwatch`` command (an entry point, like the Lambda handlers in the repository's
``handlers/`` folder): it parses arguments and calls the library, nothing more."""
