"""Student versions: solutions removed, a stub in each place, the first stub is where execution stops."""
import ast
import pathlib
import re

import nbclient
import nbformat
import pytest
from conftest import load_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
make_student = load_script("tools/make_student.py")
exercise_leaks = load_script("tools/exercise_leaks.py")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def solution_lines(nb):
    lines, inside = [], False
    for cell in nb.cells:
        for line in cell.source.splitlines():
            if line.strip() == "### BEGIN SOLUTION":
                inside = True
            elif line.strip() == "### END SOLUTION":
                inside = False
            elif inside and line.strip():
                lines.append(line.strip())
    return lines


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_copy_has_stubs_and_no_solution_text(path):
    nb = nbformat.read(path, as_version=4)
    student = make_student.student_version(nb, path.name)
    text = "\n".join(c.source for c in student.cells)
    solutions = solution_lines(nb)
    n_exercises = sum("### BEGIN SOLUTION" in c.source for c in nb.cells)
    assert n_exercises >= 2, f"{path.name} needs at least two exercises with solutions"
    assert len(re.findall(r'raise NotImplementedError\(\n\s*"Student exercise:', text)) == n_exercises
    assert "SOLUTION" not in text and "HIDDEN TESTS" not in text
    for line in solutions:
        assert line not in text, f"solution text leaked into the student copy: {line!r}"
    assert all(c.get("outputs", []) == [] for c in student.cells if c.cell_type == "code")
    assert f"/student/{path.name}" in student.cells[0].source and f"/notebooks/{path.name}" not in text


@pytest.mark.slow
def test_executing_a_student_notebook_stops_at_the_first_stub(tmp_path):
    """On a small synthetic notebook (the real ones already run once, under nbval): lesson cells run, the first
    exercise stops with its stub, and nothing after it runs."""
    cells = [nbformat.v4.new_markdown_cell("[![Open In Colab](x)](y/notebooks/99_demo.ipynb)\n# demo"),
             nbformat.v4.new_code_cell("x = 2"),
             nbformat.v4.new_code_cell("# Exercise 1: double it\ndef f(v):\n    ### BEGIN SOLUTION\n    return 2 * v\n"
                                       "    ### END SOLUTION\n\nassert f(x) == 4"),
             nbformat.v4.new_code_cell("y = 3")]
    student = make_student.student_version(nbformat.v4.new_notebook(cells=cells), "99_demo.ipynb")
    client = nbclient.NotebookClient(student, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(nbclient.exceptions.CellExecutionError) as err:
        client.execute()
    assert err.value.ename == "NotImplementedError" and "double it" in str(err.value)
    assert [bool(c.get("execution_count")) for c in student.cells if c.cell_type == "code"] == [True, True, False]


@pytest.mark.parametrize("source, message", [
    ("x = 1\n### BEGIN SOLUTION\ny = 2\n", "never closed"),
    ("### END SOLUTION\n", "without its opening marker"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside an open"),
])
def test_unbalanced_markers_name_the_notebook_and_cell(source, message):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("intro"), nbformat.v4.new_code_cell(source)])
    with pytest.raises(make_student.MarkerError, match=rf"99_demo.ipynb, cell 1.*{message}"):
        make_student.student_version(nb, "99_demo.ipynb")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_published_student_copy_is_current(path):
    """student/ is committed so the student badges point at files that exist; it must match `make student`."""
    published = ROOT / "student" / path.name
    assert published.exists(), f"student/{path.name} is missing: run `make student` and commit student/"
    fresh = nbformat.writes(make_student.student_version(nbformat.read(path, as_version=4), path.name))
    assert published.read_text().rstrip("\n") == fresh.rstrip("\n"), f"student/{path.name} is stale: run `make student`"


def test_no_student_copy_without_its_notebook():
    assert {p.name for p in (ROOT / "student").glob("*.ipynb")} == {p.name for p in NOTEBOOKS}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_exercise_answer_is_already_on_the_page(path):
    """The lesson cells must not compute what an exercise asks for (same computation under other names included):
    where a lesson needs it, it calls the library instead."""
    found = exercise_leaks.leaks(nbformat.read(path, as_version=4))
    assert not found, "\n".join(f"the solution in cell {s} is computed in cell {c}: {code}" for s, code, c in found)


def _nb(lesson, solution):
    cells = [
        nbformat.v4.new_code_cell(lesson),
        nbformat.v4.new_code_cell(f"def answer(H, g, d):\n    ### BEGIN SOLUTION\n{solution}\n    ### END SOLUTION"),
    ]
    return nbformat.v4.new_notebook(cells=cells)


@pytest.mark.parametrize("lesson", [
    "scores = -G @ (V @ ((V.T @ g) / (lam + delta)))",                                   # the same expression
    "rotated = evecs.T @ g_test\nout = -G @ (evecs @ (rotated / (evals + d)))",           # other names, a temporary
    "f = lambda d: -Gr @ (Q @ ((Q.T @ gt) / (ev + d)))",                                 # inside a lambda
])
def test_the_leak_detector_sees_through_names_and_temporaries(lesson):
    solution = "    coords = evecs.T @ g\n    scaled = coords / (evals + d)\n    return -G @ (evecs @ scaled)"
    assert len(exercise_leaks.leaks(_nb(lesson, solution))) == 1


@pytest.mark.parametrize("lesson", [
    "x = jax.jvp(f, (w,), (v,))",                        # using an API the exercise also uses is not an answer
    "scores = -G @ curvature.eigh_solve(evals, evecs, g, damping=d)",   # the lesson calls the library
    "y = jnp.linalg.norm(a - b) / jnp.linalg.norm(b)",
])
def test_the_leak_detector_ignores_api_use_and_library_calls(lesson):
    solution = (
        "    coords = evecs.T @ g\n    return -G @ (evecs @ (coords / (evals + d)))\n    _ = jax.jvp(f, (w,), (v,))"
    )
    assert exercise_leaks.leaks(_nb(lesson, solution)) == []


def test_the_leak_detector_sees_an_einsum_and_a_local_function_call():
    solution = "    return jnp.einsum('nkp,nkl,nlq->pq', J, Hout, J) / n"
    assert exercise_leaks.leaks(_nb("G = jnp.einsum('nkp,nkl,nlq->pq', Jac, out, Jac)", solution))
    newton = "    return w - jnp.linalg.solve(jax.hessian(R)(w), jax.grad(R)(w))"
    assert exercise_leaks.leaks(_nb("w = w - jnp.linalg.solve(hess(w), grad(w))", newton))


def test_the_leak_detector_does_not_inline_a_rebound_parameter():
    """`mu = f(mu)` rebinds a function's parameter. Taken for a single assignment, mu's definition would be inlined
    into itself, round after round, and the expressions would grow exponentially (a cell once took minutes)."""
    lesson = ("def step(w, mu):\n    L = chol(B + mu * I)\n    d = solve(L, g)\n    p = g @ d + d @ B @ d\n"
              "    rho = (f(w) - f(w + d)) / p\n    mu = where(rho > 1, mu / 3, where(rho > 0, mu, 2 * mu))\n"
              "    return w + d, mu")
    assert "mu" not in exercise_leaks._single_assignments(ast.parse(lesson))
    assert exercise_leaks.leaks(_nb(lesson, "    return H @ g + d")) == []
