"""``python -m ciminus`` is the ``ciminus`` command."""

import sys

from ciminus.cli import main

sys.exit(main())
