"""``python -m ciminus`` is the ``ciminus`` command."""

import sys

from ciminus.cli import main

if __name__ == "__main__":  # worker processes (Dask, multiprocessing) re-import this module
    sys.exit(main())
