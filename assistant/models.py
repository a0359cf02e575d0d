"""Kept so `python -m assistant.models` (older set-up scripts and units) still
works; the catalogue commands are `assistant.catalog`."""

import sys

from assistant.catalog.manage import main

if __name__ == "__main__":
    sys.exit(main())
