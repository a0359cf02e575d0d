"""`python -m assistant.catalog fetch --set default`: what set-up scripts run
(see `assistant.catalog.manage.main`)."""

import sys

from assistant.catalog.manage import main

if __name__ == "__main__":
    sys.exit(main())
