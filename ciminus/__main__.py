"""``python -m ciminus`` is the ``ciminus`` command."""

from ciminus.cli import run

if __name__ == "__main__":  # worker processes (Dask, multiprocessing) re-import this module
    run()
