"""Stamp the Colab badge, the guarded setup cell and previous/next navigation into every notebook.

    python tools/stamp_notebooks.py           # rewrite notebooks/ in place (idempotent)
    python tools/stamp_notebooks.py --check   # exit 1 if any notebook is out of date (tests run this)

The repository URL comes from pyproject.toml ([project.urls] Repository) and the release tag is "v" + the
version, written once as course_utils.__version__, so changing either there and re-stamping updates every notebook.
"""
import pathlib
import re
import sys
import tomllib

import nbformat
from notebook_rewrite import rewrite

ROOT = pathlib.Path(__file__).resolve().parents[1]
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
SETUP_TAG, NAV_TAG = "course-setup", "course-navigation"


def settings():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    url = project["project"]["urls"]["Repository"].rstrip("/")
    version = re.search(r'^__version__ = "([^"]+)"', (ROOT / "course_utils" / "__init__.py").read_text(), re.M)
    return url, f"v{version.group(1)}"


def badge(url, release, folder, name):
    github = url.removeprefix("https://github.com/")
    return f"{BADGE}(https://colab.research.google.com/github/{github}/blob/{release}/{folder}/{name})"


def setup_source(url, release):
    return (
        "# Setup. On Colab: install the course library, pinned to a release; Colab's own packages already meet its\n"
        "# requirements, so pip upgrades none of them. Locally, `make lab` has installed it already.\n"
        "try:\n"
        "    import course_utils  # noqa: F401\n"
        "except ImportError:\n"
        "    import subprocess\n"
        "    import sys\n\n"
        "    import jax\n"
        "    if jax.default_backend() == \"tpu\":  # JAX has float64 on CPU and GPU, not on a TPU\n"
        "        raise RuntimeError(\"This course needs float64, which JAX lacks on a TPU: \"\n"
        "                           \"Runtime → Change runtime type → CPU or GPU, then run the notebook again.\")\n"
        "    subprocess.check_call([sys.executable, \"-m\", \"pip\", \"install\", \"--quiet\",\n"
        f"                           \"course-utils @ git+{url}@{release}\"])\n"
        "    import course_utils  # noqa: F401"
    )


def navigation(names, i):
    parts = [f"← previous: [{names[i - 1]}]({names[i - 1]})" if i > 0 else "",
             "course index: [README](../README.md)",
             f"next: [{names[i + 1]}]({names[i + 1]}) →" if i + 1 < len(names) else ""]
    return " · ".join(p for p in parts if p)


def stamp(nb, names, i, url, release):
    """Return notebook `nb` (the i-th of `names`) with badge, setup cell and navigation brought up to date."""
    nb = nbformat.from_dict(nb)
    first = nb.cells[0]
    lines = first.source.splitlines()
    if lines and lines[0].startswith(BADGE):
        lines = lines[1:]
    first.source = "\n".join([badge(url, release, "notebooks", names[i]), *lines])
    setup = next((c for c in nb.cells if SETUP_TAG in c.metadata.get("tags", [])), None)
    if setup is None:
        setup = next(c for c in nb.cells if c.cell_type == "code")
        setup.metadata["tags"] = [*setup.metadata.get("tags", []), SETUP_TAG]
    setup.source = setup_source(url, release)
    nav = [c for c in nb.cells if NAV_TAG in c.metadata.get("tags", [])]
    if not nav:
        nav = [nbformat.v4.new_markdown_cell(metadata={"tags": [NAV_TAG]})]
        nb.cells.append(nav[0])
    nav[0].source = navigation(names, i)
    return nb


def main(check=False):
    url, release = settings()
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    names = [p.name for p in paths]
    return rewrite(paths, lambda i, nb: stamp(nb, names, i, url, release), check=check, tool="stamp_notebooks")

if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv[1:]))
