"""Student versions: solutions removed, a stub in each place, the first stub is where execution stops."""
import pathlib

import nbclient
import nbformat
import pytest
from conftest import load_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
make_student = load_script("tools/make_student.py")
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
    assert text.count('raise NotImplementedError("Student exercise:') == n_exercises
    assert "SOLUTION" not in text and "HIDDEN TESTS" not in text
    for line in solutions:
        assert line not in text, f"solution text leaked into the student copy: {line!r}"
    assert all(c.get("outputs", []) == [] for c in student.cells if c.cell_type == "code")
    assert f"/student/{path.name}" in student.cells[0].source and f"/notebooks/{path.name}" not in text


def test_executing_a_student_notebook_stops_at_the_first_stub(tmp_path):
    """On a small notebook shaped like the course's (nbval already executes every real notebook once)."""
    code = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 99 · demo"),
        code("import math\nx = 2.0"),
        code("print(math.sqrt(x))"),
        code("# Exercise 1: the square\ndef square(v):\n    ### BEGIN SOLUTION\n    return v * v\n    ### END SOLUTION\n\n"
             "assert square(3) == 9"),
        code("# Exercise 2: the cube\ndef cube(v):\n    ### BEGIN SOLUTION\n    return v ** 3\n    ### END SOLUTION"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    student = make_student.student_version(nb, "99_demo.ipynb")
    first_stub = next(i for i, c in enumerate(student.cells) if "NotImplementedError" in c.source)
    client = nbclient.NotebookClient(student, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(nbclient.exceptions.CellExecutionError) as err:
        client.execute()
    assert err.value.ename == "NotImplementedError" and "Student exercise: Exercise 1: the square" in str(err.value)
    executed = [i for i, c in enumerate(student.cells) if c.cell_type == "code" and c.get("execution_count")]
    assert executed == [1, 2, 3] and max(executed) == first_stub
    errors = [o for c in student.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["NotImplementedError"]


@pytest.mark.parametrize("source, message", [
    ("x = 1\n### BEGIN SOLUTION\ny = 2\n", "never closed"),
    ("### END SOLUTION\n", "without its opening marker"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside an open"),
])
def test_unbalanced_markers_name_the_notebook_and_cell(source, message):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("intro"), nbformat.v4.new_code_cell(source)])
    with pytest.raises(make_student.MarkerError, match=rf"99_demo.ipynb, cell 1.*{message}"):
        make_student.student_version(nb, "99_demo.ipynb")
