"""``python -m sansock``: hands over to the command line beside the fake kernel.

The command line prints, starts threads, forks and opens pipes, so it is not
part of the pure core; it lives in ``sansock_fake._cli``, which needs no
native build (``info`` and ``demo --driver fake`` work on a source checkout
that was never built, and ``--driver native`` says what is missing).
"""

from __future__ import annotations

import importlib
import sys

sys.exit(importlib.import_module("sansock_fake._cli").main(sys.argv[1:]))
