"""Settings for every test run: the unit tests and the notebooks nbval executes (tests/conftest.py has the rest)."""
import os

# One BLAS thread per process. `make test` runs one notebook per core (pytest-xdist), and OpenBLAS's worker threads
# (numpy's, and scipy's, which JAX's CPU eigendecompositions call) then wait for a core the other notebook holds:
# on 2 shared cores a 118×118 eigh took about 30 ms instead of 1 ms, and notebook 02 ran 98 s instead of 67 s.
# Kernels inherit the environment, so this is set before any starts; a value already set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
