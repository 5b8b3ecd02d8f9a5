"""tools/tag_slides.py: slide metadata derived from each cell's content, stored in the notebooks, kept up to date."""
import pathlib

import nbformat
import pytest
from conftest import load_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
tag_slides = load_script("tools/tag_slides.py")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def test_notebooks_slide_tags_are_up_to_date():
    assert tag_slides.main(check=True) == 0, "run: python tools/tag_slides.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_tagging_is_idempotent_and_every_notebook_has_sections_figures_and_no_shown_exercise(path):
    nb = nbformat.read(path, as_version=4)
    once = tag_slides.tag(nb)
    assert nbformat.writes(tag_slides.tag(once)) == nbformat.writes(once)
    kinds = [c.metadata["slideshow"]["slide_type"] for c in once.cells]
    assert kinds[0] == "slide" and kinds.count("slide") >= 5
    for cell, kind in zip(once.cells, kinds):
        if cell.cell_type == "code" and tag_slides.is_exercise(cell.source):
            assert kind == "skip", "exercise code (the solutions) must never reach a slide"
        if "course-setup" in cell.metadata.get("tags", []) or "course-navigation" in cell.metadata.get("tags", []):
            assert kind == "skip"


def _tagged(cells):
    nb = tag_slides.tag(nbformat.v4.new_notebook(cells=cells))
    return [(c.metadata["slideshow"]["slide_type"], sorted(t for t in c.metadata.get("tags", [])
                                                            if t.startswith("slides-"))) for c in nb.cells]


def test_decisions_follow_the_content():
    long_code = "\n".join(f"x{i} = {i}" for i in range(14)) + "\nprint(x0)"
    cells = [
        md("[![Open In Colab](badge)](link)\n# 99 · Title\n\n**Learning objectives.**\n1. one"),
        code("import jax\nimport numpy as np\njax.config.update('jax_enable_x64', True)"),
        md("## 1. `grad` and friends\n\nProse."),
        code("g = jax.grad(f)\nprint(g(1.0))"),                                  # short: the code is the point
        code(long_code),                                                          # long and prints: output only
        code("\n".join(f"z{i} = {i}" for i in range(14))),                       # long, silent: skipped
        code("\n".join(f"y{i} = grad(f)({i})" for i in range(14)) + "\nprint(y0)"),  # 15 lines in a `grad` section
        code("plt.plot([1, 2])\nplt.show()"),                                    # a figure: its own sub-slide
        md("Prose that continues the section."),
        md("### A sub-topic"),
        code("def show(a=1):\n    plt.plot([a])\n\ninteract(show, a=IntSlider(value=1, min=0, max=3));"),
        code("print(1)  # " + "a very long comment " * 6),                       # wider than a slide: hidden
        md("## Summary\n\n* done\n\n## Exercises\n\n1. Do it."),
        code("# Exercise 1: do it\ndef f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
    ]
    assert _tagged(cells) == [
        ("slide", []), ("skip", []), ("slide", []), ("-", []), ("-", ["slides-hide-code"]), ("skip", []),
        ("-", []), ("subslide", ["slides-hide-code"]), ("-", []), ("subslide", []),
        ("subslide", ["slides-hide-code", "slides-widget-grid"]), ("-", ["slides-hide-code"]), ("slide", []),
        ("skip", []),
    ]


def test_other_tags_are_kept_and_manual_cells_are_left_alone():
    setup = code("import x", metadata={"tags": ["course-setup"]})
    manual = code("plt.plot([1])", metadata={"tags": ["slides-manual"], "slideshow": {"slide_type": "fragment"}})
    stale = code("print(1)", metadata={"tags": ["keep-me", "slides-hide-code"]})
    nb = tag_slides.tag(nbformat.v4.new_notebook(cells=[md("# T"), setup, manual, stale]))
    assert (
        nb.cells[1].metadata["tags"] == ["course-setup"] and nb.cells[1].metadata["slideshow"]["slide_type"] == "skip"
    )
    assert nb.cells[2].metadata["slideshow"]["slide_type"] == "fragment"
    assert nb.cells[3].metadata["tags"] == ["keep-me"] and nb.cells[3].metadata["slideshow"]["slide_type"] == "-"


def test_check_mode_reports_a_stale_notebook_and_rewrite_fixes_it(tmp_path, capsys):
    path = tmp_path / "99_demo.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[md("# T"), code("print(1)")]), path)
    assert tag_slides.main(check=True, paths=[path]) == 1
    assert "99_demo.ipynb" in capsys.readouterr().out
    assert tag_slides.main(paths=[path]) == 0 and tag_slides.main(check=True, paths=[path]) == 0
