"""Write the student version of every notebook: make student  (→ student/, committed next to notebooks/).

In the instructor notebooks, solutions sit inside code cells between nbgrader's markers

    ### BEGIN SOLUTION
    ...
    ### END SOLUTION

and each block becomes ``raise NotImplementedError("Student exercise: <hint>")``, the hint being the first
comment line of the cell (the message on its own line, so the stub stays within ruff's line length).
Blocks between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` are removed,
outputs are cleared, and the Colab badge points at the student copy (``student/`` on the same release).
An unbalanced marker is an error naming the notebook and the cell.
"""
import pathlib
import sys

import nbformat

MARKERS = {"### BEGIN SOLUTION": "### END SOLUTION", "### BEGIN HIDDEN TESTS": "### END HIDDEN TESTS"}


class MarkerError(ValueError):
    pass


def _hint(source):
    first = source.lstrip().splitlines()[0] if source.strip() else ""
    return first.lstrip("# ").replace('"', "'") if first.startswith("#") else "replace this line with your code"


def _stub(indent, hint, width=120):
    """The stub's lines; the message goes on its own line and a long hint is cut at a word (ruff's line length)."""
    room = width - len(indent) - 4 - len('"Student exercise: ")')
    if len(hint) > room:
        hint = hint[: room - 1].rsplit(" ", 1)[0] + "…"
    return [f"{indent}raise NotImplementedError(", f'{indent}    "Student exercise: {hint}")']


def strip_cell(source, where):
    """The cell's source with every solution replaced by a stub and every hidden-test block removed."""
    out, open_marker = [], None
    for number, line in enumerate(source.splitlines(), 1):
        text = line.strip()
        if text in MARKERS:
            if open_marker:
                raise MarkerError(f"{where}, line {number}: {text!r} inside an open {open_marker!r} block")
            open_marker = text
            if text == "### BEGIN SOLUTION":
                indent = line[: len(line) - len(line.lstrip())]
                out.extend(_stub(indent, _hint(source)))
        elif text in MARKERS.values():
            if MARKERS.get(open_marker) != text:
                raise MarkerError(f"{where}, line {number}: {text!r} without its opening marker")
            open_marker = None
        elif open_marker is None:
            out.append(line)
    if open_marker:
        raise MarkerError(f"{where}: {open_marker!r} is never closed")
    return "\n".join(out)


def student_version(nb, name):
    """A student copy of notebook `nb` (named `name`), as a new notebook object."""
    nb = nbformat.from_dict(nb)
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        if cell.cell_type == "code":
            cell.source = strip_cell(cell.source, where)
            cell.outputs, cell.execution_count = [], None
        elif any(m in cell.source for m in [*MARKERS, *MARKERS.values()]):
            raise MarkerError(f"{where}: solution markers belong in code cells")
        else:
            cell.source = cell.source.replace(f"/notebooks/{name}", f"/student/{name}")
    return nb


def main(source_dir="notebooks", out_dir="student"):
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(pathlib.Path(source_dir).glob("[0-9][0-9]_*.ipynb")):
        nbformat.write(student_version(nbformat.read(path, as_version=4), path.name), out / path.name)
        print(f"{path} -> {out / path.name}")


if __name__ == "__main__":
    main(*sys.argv[1:])
