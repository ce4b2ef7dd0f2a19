"""``python -m backupwatch``: the same as the ``backupwatch`` command."""

import sys

from backupwatch.cli.main import main

sys.exit(main())
