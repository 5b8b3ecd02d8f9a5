"""Build offline reveal.js lecture decks from the notebooks:  make slides   (→ build/slides/NN_….slides.html)

Each notebook is executed (so every figure comes from the same course_utils code as in class) and converted
with nbconvert's slides exporter. reveal.js, MathJax, jQuery and require.js are loaded from slides/node_modules
(installed by `npm ci` from slides/package-lock.json), never from a CDN, so the decks work without a network.

Slide breaks come from the notebook itself: a cell's own `slideshow.slide_type` metadata wins; otherwise every
markdown cell that starts with a heading opens a new slide, and the setup and navigation cells are skipped.
"""
import os
import pathlib
import sys

import nbformat
from nbconvert import SlidesExporter
from nbconvert.preprocessors import ExecutePreprocessor

ROOT = pathlib.Path(__file__).resolve().parents[1]
NODE = ROOT / "slides" / "node_modules"
SKIP_TAGS = {"course-setup", "course-navigation"}


def add_slide_breaks(nb):
    """Slide metadata from the notebook's structure (explicit metadata wins); drop the Colab badge line."""
    first = nb.cells[0]
    if first.source.startswith("[![Open In Colab]"):
        first.source = first.source.split("\n", 1)[-1]
    for cell in nb.cells:
        if "slideshow" in cell.metadata:
            continue
        if SKIP_TAGS & set(cell.metadata.get("tags", [])):
            kind = "skip"
        elif cell.cell_type == "markdown" and cell.source.lstrip().startswith("#"):
            kind = "slide"
        else:
            kind = "-"
        cell.metadata["slideshow"] = {"slide_type": kind}
    return nb


def build(path, out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(path, as_version=4)
    ExecutePreprocessor(timeout=900, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(path.parent)}})
    rel = lambda p: os.path.relpath(NODE / p, out_dir)
    exporter = SlidesExporter(
        template_name="offline_reveal", extra_template_basedirs=[str(ROOT / "slides" / "templates")],
        reveal_url_prefix=rel("reveal.js"), reveal_theme="simple",
        mathjax_url=rel("mathjax/MathJax.js") + "?config=TeX-AMS_CHTML-full,Safe",
        jquery_url=rel("jquery/dist/jquery.min.js"), require_js_url=rel("requirejs/require.js"),
        font_awesome_url="",
    )
    html, _ = exporter.from_notebook_node(add_slide_breaks(nb))
    target = out_dir / path.name.replace(".ipynb", ".slides.html")
    target.write_text(html)
    return target


def main(names=()):
    if not (NODE / "reveal.js").exists():
        sys.exit("slides/node_modules is missing: run `make slides` (it runs `npm ci` in slides/ first).")
    paths = [ROOT / "notebooks" / n for n in names] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        print(path.name, "->", build(path, ROOT / "build" / "slides"))


if __name__ == "__main__":
    main(sys.argv[1:])
