"""Repository hygiene: one dependency list, notebooks stored without outputs, modern JAX only."""
import json
import pathlib
import re
import tomllib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


# The few packages conda-forge names differently from PyPI (conda-forge name -> PyPI name)
CONDA_TO_PYPI = {"playwright-python": "playwright"}


def _name(requirement):
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pypi(conda_requirement):
    name = _name(conda_requirement)
    return CONDA_TO_PYPI.get(name, name) + conda_requirement.strip()[len(name):]


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {r for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= set(extra)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_pypi(d) for d in env["dependencies"] if isinstance(d, str) and _name(d) not in {"python", "pip"}}
    # same packages, and the same version ranges
    assert {_name(r) for r in conda} == {_name(r) for r in wanted}
    assert {r.replace(" ", "") for r in conda} == {r.replace(" ", "") for r in wanted}
    pip_part = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_part == [{"pip": ["-e ."]}]


def test_there_are_notebooks_and_they_are_numbered():
    assert NOTEBOOKS, "no notebooks found"
    for nb in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", nb.name), nb.name


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "code":
                assert cell.get("outputs", []) == [], f"{path.name} cell {i} has stored outputs"
                assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


def test_no_removed_jax_apis():
    banned = ["jax.experimental.stax", "from jax.config import config", "jax.experimental.optimizers"]
    files = [*ROOT.glob("course_utils/*.py"), *ROOT.glob("benchmarks/*.py"), *NOTEBOOKS]
    for path in files:
        text = path.read_text()
        for b in banned:
            assert b not in text, f"{path.name} uses {b}"


def _load_tool(name):
    from conftest import load_script

    return load_script(f"tools/{name}.py")


def test_badges_setup_cells_and_navigation_are_up_to_date():
    assert _load_tool("stamp_notebooks").main(check=True) == 0, "run: python tools/stamp_notebooks.py"


def test_stamping_is_idempotent_and_follows_pyproject():
    stamp = _load_tool("stamp_notebooks")
    import nbformat

    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    names = [p.name for p in NOTEBOOKS]
    once = stamp.stamp(nb, names, 0, "https://github.com/someone/fork", "v9.9")
    twice = stamp.stamp(once, names, 0, "https://github.com/someone/fork", "v9.9")
    assert nbformat.writes(once) == nbformat.writes(twice)
    assert "github/someone/fork/blob/v9.9/notebooks/" in once.cells[0].source
    assert "git+https://github.com/someone/fork@v9.9" in "".join(c.source for c in once.cells)


def test_every_notebook_has_the_course_skeleton_in_order():
    """Badge, learning objectives, guarded setup cell, summary, exercises — in that order."""
    import nbformat

    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        find = lambda pred: next((i for i, c in enumerate(cells) if pred(c)), None)
        order = {
            "badge": find(lambda c: c.cell_type == "markdown" and c.source.startswith("[![Open In Colab]")),
            "objectives": find(lambda c: c.cell_type == "markdown" and "Learning objectives" in c.source),
            "setup": find(lambda c: c.cell_type == "code" and "course-setup" in c.metadata.get("tags", [])
                          and "except ImportError" in c.source),
            "summary": find(lambda c: c.cell_type == "markdown" and "## Summary" in c.source),
            "exercises": find(lambda c: c.cell_type == "markdown" and "## Exercises" in c.source),
        }
        missing = [k for k, v in order.items() if v is None]
        assert not missing, f"{path.name} lacks: {missing}"
        assert list(order.values()) == sorted(order.values()), f"{path.name}: skeleton out of order {order}"
        assert order["badge"] == 0 and order["setup"] == min(i for i, c in enumerate(cells) if c.cell_type == "code")


def test_ruff_finds_nothing_in_the_package_tests_tools_and_notebooks():
    """The linter (configured in pyproject.toml) over everything the course ships; run `ruff check --fix` to tidy."""
    import subprocess
    import sys

    paths = [str(ROOT / d) for d in ("course_utils", "tests", "tools", "benchmarks", "slides", "notebooks")]
    result = subprocess.run([sys.executable, "-m", "ruff", "check", *paths], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:]


def test_colabs_versions_meet_every_requirement():
    """The setup cell installs the course into Colab's packages; a lower bound above Colab's version would make pip
    upgrade that package there. (A quick check of the bounds; `make test-colab` checks the real install.)"""
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name

    colab = _load_tool("colab_run")
    pins = colab.read_pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for line in project["dependencies"]:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in tools/colab-constraints.txt (what version does Colab have?)"
        assert req.specifier.contains(pins[name], prereleases=True), f"{line}: Colab has {name}=={pins[name]}"
    colab_python = ".".join(map(str, colab.COLAB_PYTHON))
    assert SpecifierSet(project["requires-python"]).contains(colab_python), f"Colab runs Python {colab_python}"


def test_one_python_requirement():
    """pyproject's requires-python, environment.yml and the README name the same minimum Python."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert f"python{requires}" in env["dependencies"]
    minimum = re.fullmatch(r">=\s*(3\.\d+)", requires).group(1)
    assert f"Python {minimum}+" in (ROOT / "README.md").read_text()


def test_setup_cell_installs_only_when_missing_and_stops_on_a_tpu(monkeypatch):
    """The setup cell, run where course_utils is missing (Colab): on CPU or GPU it pip-installs the release; on a
    TPU (no float64) it stops before installing and says how to switch the runtime."""
    import sys
    import types

    source = _load_tool("stamp_notebooks").setup_source("https://github.com/someone/fork", "v9.9")
    for backend in ["cpu", "gpu", "tpu"]:
        calls = []
        fake_subprocess = types.SimpleNamespace(
            check_call=lambda cmd: (calls.append(cmd), sys.modules.__setitem__("course_utils", types.ModuleType("c"))))
        monkeypatch.setitem(sys.modules, "course_utils", None)       # `import course_utils` raises ImportError
        monkeypatch.setitem(sys.modules, "subprocess", fake_subprocess)
        monkeypatch.setitem(sys.modules, "jax", types.SimpleNamespace(default_backend=lambda: backend))
        if backend == "tpu":
            with pytest.raises(RuntimeError, match="Change runtime type"):
                exec(source, {})
            assert calls == []
        else:
            exec(source, {})
            assert calls == [[sys.executable, "-m", "pip", "install", "--quiet",
                              "course-utils @ git+https://github.com/someone/fork@v9.9"]]
        monkeypatch.undo()


def test_the_ci_lock_satisfies_every_requirement():
    """tools/ci-lock.txt (what `make test` installs) pins a version inside every range of pyproject.toml, for every
    Python the course supports; `make lock` re-resolves it after a change there."""
    from packaging.markers import Marker
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "tools" / "ci-lock.txt").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            spec, _, marker = line.partition(" ; ")
            name, version = spec.split("==")
            pins.setdefault(canonicalize_name(name), []).append((version, Marker(marker) if marker else None))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + [r for extra in ("test", "lab") for r in project["optional-dependencies"][extra]]
    for python in ["3.11", "3.12", "3.13"]:
        env = {"python_version": python, "python_full_version": python + ".0", "sys_platform": "linux",
               "platform_system": "Linux", "implementation_name": "cpython", "extra": ""}
        for line in lines:
            req = Requirement(line)
            chosen = [v for v, m in pins.get(canonicalize_name(req.name), []) if m is None or m.evaluate(env)]
            assert chosen, f"{req.name} is missing from tools/ci-lock.txt for Python {python}: run `make lock`"
            assert req.specifier.contains(chosen[0], prereleases=True), \
                f"tools/ci-lock.txt pins {req.name}=={chosen[0]}, outside {line!r}: run `make lock`"


def test_every_library_module_declares_its_public_names():
    import importlib

    for path in sorted((ROOT / "course_utils").glob("[a-z]*.py")):
        module = importlib.import_module(f"course_utils.{path.stem}")
        assert hasattr(module, "__all__"), f"course_utils/{path.name} has no __all__"
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert not missing, f"course_utils/{path.name}: __all__ names {missing}, which it does not define"
