import contextlib

import jax
import pytest
from hypothesis import settings

jax.config.update("jax_enable_x64", True)

# JAX compiles on first use; a deadline would measure compilation, not our code.
settings.register_profile("course", deadline=None, max_examples=20, derandomize=True)
settings.load_profile("course")


@pytest.fixture
def float32_jax():
    """Run a test with JAX's default float32 mode (x64 off), then restore float64."""
    @contextlib.contextmanager
    def ctx():
        jax.config.update("jax_enable_x64", False)
        try:
            yield
        finally:
            jax.config.update("jax_enable_x64", True)
    return ctx


def load_script(relative_path):
    """Import a repository script (tools/…, slides/build.py) as a module, for testing its functions."""
    import importlib.util
    import pathlib

    import sys

    path = pathlib.Path(__file__).resolve().parents[1] / relative_path
    if str(path.parent) not in sys.path:                  # its sibling modules, as when it runs as a script
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
