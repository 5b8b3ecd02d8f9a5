"""Repository hygiene: one dependency list, notebooks stored without outputs, modern JAX only."""
import json
import pathlib
import re
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _name(requirement):
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {r for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= set(extra)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {d for d in env["dependencies"] if isinstance(d, str) and _name(d) not in {"python", "pip"}}
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
