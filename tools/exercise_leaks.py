"""Find exercise solutions whose substance is already on the page of the student copy.

    python tools/exercise_leaks.py [notebooks/NN_name.ipynb ...]     # prints each leak; exit 1 if any

A student copy replaces every solution (between ``### BEGIN SOLUTION`` / ``### END SOLUTION``) by a stub. If the
lesson cells compute the same thing, the exercise gives its answer away, even when the lesson uses other names or
writes in one expression what the solution spreads over several lines. So the comparison is on the *shape* of the
code, not its text:

* every name becomes ``_`` and every number ``#`` (attribute names such as ``.T`` or ``linalg.solve``, operators,
  keyword names, strings such as einsum specifications and the structure of calls are kept);
* the code is also read with every name assigned once (``coords = evecs.T @ g``) replaced by its expression, so
  spreading a computation over temporaries does not hide it, and with every call of a local function
  (``hess(w)``, ``jax.hessian(R)(w)``) made an opaque value, so what is done with it is compared, not how it was made;
* every sub-expression of the solution with at least ``MIN_NODES`` nodes is looked up among the sub-expressions of
  the lesson cells (every code cell of the notebook outside the solution blocks, the exercise's own cells included).

A match is a leak. Small shapes (``_ @ _``, ``jnp.sum(_)``) are below the threshold and never match.
"""
import ast
import copy
import pathlib
import sys

import nbformat

MIN_NODES = 8
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def split_cell(source):
    """(lesson source, [solution sources]) of one code cell: solution blocks cut out, the rest kept in place."""
    lesson, solutions, current = [], [], None
    for line in source.splitlines():
        if line.strip() == BEGIN:
            current = []
        elif line.strip() == END:
            solutions.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
        else:
            lesson.append(line)
    return "\n".join(lesson), solutions


def _parse(source):
    """Parse code that may be a function body (a solution block is indented and may `return`)."""
    import textwrap

    body = textwrap.dedent(source)
    try:
        return ast.parse(body)
    except SyntaxError:
        try:
            return ast.parse("def _():\n" + textwrap.indent(body, "    "))
        except SyntaxError:
            return None


class _Inline(ast.NodeTransformer):
    """Replace uses of names assigned exactly once by (a copy of) the assigned expression."""

    def __init__(self, defs):
        self.defs = defs

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in self.defs:
            return copy.deepcopy(self.defs[node.id])
        return node


def _single_assignments(tree):
    counts, defs = {}, {}
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    targets.append((target.id, node.value))
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple) \
                        and len(target.elts) == len(node.value.elts):
                    targets += [(t.id, v) for t, v in zip(target.elts, node.value.elts) if isinstance(t, ast.Name)]
                else:
                    targets += [(n.id, None) for n in ast.walk(target) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.comprehension)):
            target = node.target
            targets += [(n.id, None) for n in ast.walk(target) if isinstance(n, ast.Name)]
        for name, value in targets:
            counts[name] = counts.get(name, 0) + 1
            defs[name] = value
    return _acyclic({name: value for name, value in defs.items() if counts[name] == 1 and value is not None})


def _acyclic(defs):
    """Drop the definitions that refer back to themselves, directly or through others (a rebound parameter:
    ``mu = f(mu)`` in a function of mu). Inlining those would feed a definition into itself round after round, and
    the expressions would grow exponentially."""
    uses = {name: {n.id for n in ast.walk(value) if isinstance(n, ast.Name) and n.id in defs}
            for name, value in defs.items()}

    def reaches_itself(start):
        seen, stack = set(), list(uses[start])
        while stack:
            name = stack.pop()
            if name == start:
                return True
            if name not in seen:
                seen.add(name)
                stack.extend(uses[name])
        return False

    return {name: value for name, value in defs.items() if not reaches_itself(name)}


def _inlined(tree):
    defs = _single_assignments(tree)
    for _ in range(4):  # expressions defined in terms of other single assignments
        defs = {name: _Inline({k: v for k, v in defs.items() if k != name}).visit(copy.deepcopy(value))
                for name, value in defs.items()}
    return _Inline(defs).visit(copy.deepcopy(tree))


class _Abstract(ast.NodeTransformer):
    """Names become ``_``, numbers ``#`` (strings such as einsum specifications are kept)."""

    def visit_Name(self, n):
        return ast.Name(id="_", ctx=ast.Load())

    def visit_Constant(self, n):
        return n if isinstance(n.value, str) else ast.Constant(value="#")

    def visit_arg(self, n):
        return ast.arg(arg="_")


class _OpaqueCalls(ast.NodeTransformer):
    """A call of a local function (``hess(w)``, ``jax.hessian(R)(w)``) becomes an opaque value ``_``: what matters is
    what is done with it."""

    def visit_Call(self, n):
        self.generic_visit(n)
        return ast.Name(id="_", ctx=ast.Load()) if isinstance(n.func, (ast.Name, ast.Call)) else n


def _shape(node):
    """A canonical string of an expression with names and numbers abstracted away."""
    return ast.dump(_Abstract().visit(copy.deepcopy(node)), annotate_fields=False)


def _size(node):
    """Nodes that carry meaning (not contexts or operator tokens); an einsum specification counts as 3."""
    weight = lambda n: 3 if isinstance(n, ast.Constant) and isinstance(n.value, str) and "->" in n.value else 1
    return sum(weight(n) for n in ast.walk(node) if not isinstance(n, (ast.expr_context, ast.operator, ast.unaryop,
                                                                            ast.cmpop, ast.boolop)))


def _plain_call(node):
    """A single API call on plain names, such as ``jax.jvp(f, (w,), (v,))``: how the library is called, not a
    computation (the lesson teaches the API; using it is not an answer)."""
    if not isinstance(node, ast.Call):
        return False
    if any(isinstance(a, ast.Constant) and isinstance(a.value, str) and "->" in a.value for a in node.args):
        return False  # an einsum specification is itself a computation
    leaf = lambda a: isinstance(a, (ast.Name, ast.Constant)) or (
        isinstance(a, ast.Tuple) and all(isinstance(e, (ast.Name, ast.Constant)) for e in a.elts))
    return all(leaf(a) for a in [*node.args, *(k.value for k in node.keywords)])


def _subexpressions(tree):
    """Sub-expressions of at least MIN_NODES nodes of three views of the code: as written, with single assignments
    inlined, and with calls of local functions made opaque."""
    views = (tree, _inlined(tree), _OpaqueCalls().visit(copy.deepcopy(tree)))
    return [n for view in views for n in ast.walk(view)
            if isinstance(n, ast.expr) and _size(n) >= MIN_NODES and not _plain_call(n)]


def leaks(nb):
    """[(cell index of the solution, solution snippet, cell index of the lesson code that shows it)]."""
    lesson_shapes, solutions = {}, []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        lesson, sols = split_cell(cell.source)
        solutions += [(index, s) for s in sols]
        tree = _parse(lesson)
        if tree is not None:
            for node in _subexpressions(tree):
                lesson_shapes.setdefault(_shape(node), index)
    found = []
    for index, source in solutions:
        tree = _parse(source)
        if tree is None:
            continue
        seen = set()
        for node in sorted(_subexpressions(tree), key=_size, reverse=True):
            shape = _shape(node)
            if shape in lesson_shapes and shape not in seen:
                seen.add(shape)
                found.append((index, ast.unparse(node), lesson_shapes[shape]))
                break  # the largest match per solution block is enough to report
    return found


def main(paths):
    paths = paths or sorted(pathlib.Path(__file__).resolve().parents[1].glob("notebooks/[0-9][0-9]_*.ipynb"))
    status = 0
    for path in map(pathlib.Path, paths):
        for sol, snippet, lesson in leaks(nbformat.read(path, as_version=4)):
            print(f"{path.name}: the solution in cell {sol} is computed in cell {lesson}: {snippet}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
