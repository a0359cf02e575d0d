"""Applies tests/support/numerics.py's hooks in a child Python of the suite.

Only on PYTHONPATH when tests/conftest.py found a hook variable set (a cell
of tests/matrix.sh); never part of the product.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
try:
    from tests.support import numerics

    numerics.apply()
finally:
    del sys.path[0]
