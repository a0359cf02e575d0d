"""`python -m assistant`: the same as the `assistant` command."""

import sys

from assistant.frontends.cli import main

sys.exit(main())
