"""``python -m sansock``: hands over to the command line beside the native driver.

The command line prints, forks and opens pipes, so it is not part of the pure
core; it lives in ``sansock_native._cli``.
"""

from __future__ import annotations

import importlib
import sys

sys.exit(importlib.import_module("sansock_native._cli").main(sys.argv[1:]))
