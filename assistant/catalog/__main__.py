"""`python -m assistant.catalog fetch --set default`: what set-up scripts run."""

import sys

from assistant.catalog.manage import main

sys.exit(main())
