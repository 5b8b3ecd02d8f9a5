"""Tag every notebook cell for the lecture decks, from the cell's content alone.

    python tools/tag_slides.py           # rewrite notebooks/ in place (idempotent)
    python tools/tag_slides.py --check   # exit 1 if any notebook is out of date (tests run this)

It writes the standard ``slideshow.slide_type`` metadata (what JupyterLab's property inspector, RISE and
``nbconvert --to slides`` read) and the deck tags below; slides/build.py turns them into a deck. Re-run it after
editing a notebook: nothing here is chosen by hand, so a content change never needs a hand-made slide change.

slide_type
  slide     the title cell, and every markdown cell that opens with ``#`` or ``##`` (a section)
  subslide  a markdown cell that opens with ``###``; a code cell that draws a figure or calls ``interact``
            (the figure gets a slide of its own, under the section's title and its key equation)
  -         shown where it falls: prose that continues a section, code worth reading, a printed result
  skip      the setup and navigation cells, cells that only import, exercise code (it holds the
            solutions: decks never show it), and code whose code is not shown and that prints nothing

tags (the tool owns the ``slides-`` tags; a cell's other tags are kept)
  slides-hide-code    show the cell's outputs, not its code. Code is shown only where the code is the point:
                      at most 10 lines, or at most 18 in a section whose heading names a JAX function in
                      backticks and that the cell calls (notebook 00's `grad`, `jit`, `vmap`, …), no line
                      wider than a slide (104 characters), and never when the cell draws a figure
  slides-widget-grid  an ipywidgets ``interact(fn, name=Slider(…), …)`` call: a static deck cannot run it, so
                      the deck shows fn at the first slider's min, default and max as one labelled figure
                      (course_utils.plots.widget_grid, called in the kernel that builds the deck)
  slides-manual       set by hand: the tool leaves this cell's slide type and slides- tags alone

How much fits on one slide (and so where a long section continues on a sub-slide) depends on the outputs, which
only exist once the notebook runs: slides/build.py decides that when it builds the deck.
"""
import ast
import pathlib
import re
import sys

import nbformat
from notebook_rewrite import rewrite

ROOT = pathlib.Path(__file__).resolve().parents[1]
SKIP_TAGS = {"course-setup", "course-navigation"}
HIDE, GRID, MANUAL = "slides-hide-code", "slides-widget-grid", "slides-manual"
SHORT_CODE, API_CODE = 10, 18       # the most code lines shown on a slide (anywhere / in an API section)
CODE_WIDTH = 104                     # the longest code line a slide shows without wrapping it
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS")
FIGURE_CALLS = {"show", "figure", "subplots", "imshow", "plot", "loglog", "semilogy", "scatter", "hist", "bar"}


def parse(source):
    """The cell's syntax tree, IPython magics and shell lines blanked out; None if it does not parse."""
    lines = [("pass" if line.lstrip().startswith(("%", "!")) else line) for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _names(tree):
    """Every name and attribute the code mentions (``plt``, ``show``, ``grad`` …)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
    return out


def interact_calls(tree):
    """The ``interact(fn, …)`` calls in a cell (the ipywidgets function, called directly)."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name) and node.func.id == "interact" and node.args]


def draws_figure(tree):
    names = _names(tree)
    return "plt" in names or bool(interact_calls(tree)) or bool(names & {"loo_scatter", "widget_grid"}) \
        or ("ax" in names and bool(names & FIGURE_CALLS))


def prints_something(tree):
    """Whether running the cell can show anything: a print/display call, a figure, or a bare last expression."""
    if not tree.body:
        return False
    names = _names(tree)
    return bool(names & {"print", "display"}) or draws_figure(tree) or isinstance(tree.body[-1], ast.Expr)


def only_imports(tree):
    """Imports and ``jax.config.update(…)`` lines only: nothing for a slide."""
    def trivial(stmt):
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return True
        return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
            and "config" in ast.unparse(stmt.value.func)
    return bool(tree.body) and all(trivial(s) for s in tree.body)


def is_exercise(source):
    first = source.lstrip().splitlines()[0] if source.strip() else ""
    return any(m in source for m in SOLUTION_MARKERS) or bool(re.match(r"#\s*Exercise\b", first))


def heading_level(source):
    """1 for ``# …``, 2 for ``## …`` … of the cell's first non-empty line (after a Colab badge); 0 if none."""
    lines = [line for line in source.splitlines() if line.strip() and not line.startswith("[![")]
    match = re.match(r"(#{1,6})\s", lines[0]) if lines else None
    return len(match.group(1)) if match else 0


def section_api_names(heading):
    """Identifiers named in backticks in a section heading: ## 5. `jvp` and `vjp` → {"jvp", "vjp"}."""
    return {name for code in re.findall(r"`([^`]+)`", heading) for name in re.findall(r"[A-Za-z_]\w*", code)}


def code_is_the_point(source, tree, api_names):
    lines = source.strip().splitlines()
    if max(len(line) for line in lines) > CODE_WIDTH:
        return False
    if len(lines) <= SHORT_CODE:
        return True
    return len(lines) <= API_CODE and bool(api_names & _names(tree))


def decide(cell, api_names):
    """(slide_type, deck tags) for one cell; ``api_names`` are the backticked names of its section's heading."""
    tags = set(cell.metadata.get("tags", []))
    if tags & SKIP_TAGS:
        return "skip", set()
    if cell.cell_type == "markdown":
        level = heading_level(cell.source)
        return ("slide" if level in (1, 2) else "subslide" if level == 3 else "-"), set()
    if cell.cell_type != "code" or not cell.source.strip() or is_exercise(cell.source):
        return "skip", set()
    tree = parse(cell.source)
    if tree is None:                                   # not Python we can read: show its output only
        return "-", {HIDE}
    if only_imports(tree):
        return "skip", set()
    if interact_calls(tree):
        return "subslide", {HIDE, GRID}
    if draws_figure(tree):
        return "subslide", {HIDE}
    if code_is_the_point(cell.source, tree, api_names):
        return "-", set()
    return ("-", {HIDE}) if prints_something(tree) else ("skip", set())


def tag(nb):
    """Return a copy of notebook `nb` with every cell's slide type and deck tags brought up to date."""
    nb = nbformat.from_dict(nb)
    api_names = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown" and heading_level(cell.source) in (1, 2):
            heading = next(line for line in cell.source.splitlines() if line.startswith("#"))
            api_names = section_api_names(heading)
        tags = list(cell.metadata.get("tags", []))
        if MANUAL in tags:
            continue
        kind, deck_tags = decide(cell, api_names)
        cell.metadata["slideshow"] = {"slide_type": kind}
        kept = [t for t in tags if not t.startswith("slides-")]
        new = kept + sorted(deck_tags)
        if new:
            cell.metadata["tags"] = new
        else:
            cell.metadata.pop("tags", None)
    return nb


def main(check=False, paths=None):
    paths = paths or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return rewrite(paths, lambda i, nb: tag(nb), check=check, tool="tag_slides")

if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv[1:]))
