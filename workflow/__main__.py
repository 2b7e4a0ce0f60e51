"""``python -m workflow`` is the ``diffdag`` command."""

import sys

from workflow.cli import main

sys.exit(main())
