"""Kept so `python -m assistant.cli` still works; the CLI is `assistant.frontends.cli`."""

import sys

from assistant.frontends.cli import main

if __name__ == "__main__":
    sys.exit(main())
