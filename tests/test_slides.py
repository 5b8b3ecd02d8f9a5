"""Lecture decks. The deck builder is tested on a small synthetic notebook (built in a temporary folder, in
seconds) and the deck is checked in headless Chromium: every slide measured at 1280×720 for overflow, every
request recorded. No course notebook is executed here (nbval runs each one once); the real decks are checked
only if `make slides` has built them into build/slides/.
"""
import json
import pathlib
import re
import shutil

import nbformat
import pytest
from conftest import load_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
build_slides = load_script("slides/build.py")
check = load_script("slides/check.py")
tag_slides = load_script("tools/tag_slides.py")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BUILT = sorted((ROOT / "build" / "slides").glob("*/index.html"))
SECRET = "secret_solution_value = 12345 * 54321"

needs_node = pytest.mark.skipif(
    not all(p.exists() for p in build_slides.ASSETS.values()),
    reason="reveal.js/MathJax are not installed in slides/node_modules (needs npm: `make slides` installs them)")
try:
    import playwright.sync_api  # noqa: F401
    _playwright = True
except ImportError:
    _playwright = False
needs_chromium = pytest.mark.skipif(
    not (check.chromium_available() and _playwright),
    reason="Debian's chromium (apt-get install chromium) or Playwright is missing: decks not rendered")

md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
LONG_PARAGRAPH = ("Influence functions ask how the fitted parameters move when one training point is up-weighted "
                  "by a small ε; the answer, $-H^{-1}\\nabla L(z)$, needs one inverse-Hessian-vector product per "
                  "test point, which is why the course spends three notebooks on Hessian-vector products. ")


def synthetic_notebook():
    """Every kind of cell the course notebooks have, sized to need splitting."""
    objectives = "\n".join(f"{i}. explain item {i} of this lecture in enough words to wrap onto a second line "
                           f"of the slide, with $\\lambda_{{\\max}}$ in it;" for i in range(1, 9))
    cells = [
        md(
            "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://example.org)\n"
            "# 99 · A synthetic lecture\n\nAn introduction paragraph. "
            + LONG_PARAGRAPH
            + f"\n\n**Learning objectives.** After this notebook you can\n{objectives}\n\n"
            "**Prerequisites.** None. **Time:** five minutes."
        ),
        code("x_setup = 1", metadata={"tags": ["course-setup"]}),
        code(
            "import matplotlib.pyplot as plt\nimport numpy as np\n"
            "from ipywidgets import FloatSlider, IntSlider, interact"
        ),
        md(
            "## 1. A long section\n\n"
            + "\n\n".join([LONG_PARAGRAPH * 2] * 5)
            + "\n\nThe key equation:\n\n"
            "$$\\mathcal{I}(z) = -\\frac{1}{n}\\sum_i \\nabla L(z_i)^\\top H^{-1} \\nabla L(z)$$"
        ),
        code("v = np.arange(3)\nprint(v * 2)"),
        code(
            "fig, ax = plt.subplots(1, 3, figsize=(15, 4))\nfor a in ax:\n"
            "    a.plot(np.random.default_rng(0).random(20))\n"
            "plt.show()"
        ),
        code(
            "for i in range(70):\n    print(f'row {i:2d} ' + 'a fairly long printed line of results, ' * 4)"
            "  # a comment that makes this line wider than any slide ........................"
        ),
        md("## 2. Explore: a slider"),
        code(
            "def show(a=1.0, k=2):\n    fig, ax = plt.subplots(figsize=(6, 4))\n    ax.plot(np.arange(10) ** a)\n"
            "    ax.set_title(f'a = {a}, k = {k}')\n    plt.show()\n\n"
            "interact(show, a=FloatSlider(value=1.0, min=0.5, max=2.0, description='power'),"
            " k=IntSlider(value=2, min=1, max=3));"
        ),
        md("## Summary\n\n* one point\n* another\n\n## Exercises\n\n1. **Do the thing.** Write `f`.\n"),
        code(
            f"# Exercise 1: do the thing\ndef f():\n    ### BEGIN SOLUTION\n    {SECRET}\n"
            "    return secret_solution_value\n    ### END SOLUTION\n\nprint(f())"
        ),
        md("navigation", metadata={"tags": ["course-navigation"]}),
    ]
    return tag_slides.tag(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}))


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    """The synthetic deck, built (its notebook executed) once, then copied alone to another folder."""
    source = tmp_path_factory.mktemp("notebooks") / "99_synthetic.ipynb"
    nbformat.write(synthetic_notebook(), source)
    built = build_slides.build(source, tmp_path_factory.mktemp("decks"))
    copy = tmp_path_factory.mktemp("copied") / "deck"
    shutil.copytree(built.parent, copy)                   # a deck is one folder: it must work anywhere
    shutil.rmtree(built.parent)
    return copy / "index.html"


@pytest.mark.slow
@needs_node
def test_a_deck_is_one_folder_that_names_only_its_own_assets(deck):
    page = deck.read_text()
    assert "node_modules" not in page and "../" not in page
    urls = re.findall(r'<(?:script|link|img)[^>]*?\b(?:src|href)="([^"]+)"', page)
    local = [u for u in urls if not u.startswith("data:")]
    assert sorted(local) == sorted(f"assets/{name}" for name in build_slides.ASSETS)
    assert all((deck.parent / u).exists() for u in local)
    assert "sourceMappingURL" not in (deck.parent / "assets" / "reveal.js").read_text()


@pytest.mark.slow
@needs_node
def test_deck_has_title_sections_the_widget_grid_and_no_solution(deck):
    page = deck.read_text()
    manifest = json.loads((deck.parent / "deck.json").read_text())
    assert "<title>99 · A synthetic lecture</title>" in page and manifest["title"] == "99 · A synthetic lecture"
    text = build_slides.deck_text(page)
    assert SECRET not in text and "secret_solution_value" not in text and "SOLUTION" not in text
    assert "Do the thing." in text                        # the exercise task (markdown) is shown; its code is not
    assert "widget-view" not in page and "unpkg.com" not in page
    assert manifest["figures"] == page.count("data:image/png;base64") == 2   # the figure and the slider's grid
    assert "power = 0.5 (min)" not in text                # (the grid's labels are inside the picture)
    assert manifest["sections"] == 5                      # title, two sections, Summary, Exercises
    assert manifest["slides"] >= 10                       # long prose, objectives and output continue on sub-slides


@pytest.mark.slow
@needs_node
@needs_chromium
def test_no_slide_overflows_and_nothing_is_requested_from_the_network(deck):
    report = check.check_deck(deck)
    assert report["problems"] == [], "\n".join(report["problems"])
    assert report["errors"] == []
    assert report["requests"] and report["external"] == [], report["external"]
    assert all(u.startswith(deck.parent.as_uri()) or u.startswith("data:") for u in report["requests"])
    assert report["title"] == "99 · A synthetic lecture"
    assert report["figures"] == 2 and report["math"] >= 10 and report["min_font"] >= check.MIN_FONT_PX
    first = report["text"][0]
    assert "99 · A synthetic lecture" in first and "Learning objectives" in first   # the title slide
    assert "An introduction paragraph" not in first
    assert any("Do the thing." in t for t in report["text"])
    assert not any("Do the thing." in t and "one point" in t for t in report["text"])  # Summary ≠ Exercises slide


@pytest.mark.slow
@needs_node
@needs_chromium
def test_the_checker_catches_overflow_clipping_small_text_and_requests(deck, tmp_path):
    """The deck test is only as good as its measurements: break a copy of the deck and see each caught."""
    broken = tmp_path / "broken"
    shutil.copytree(deck.parent, broken)
    page = (broken / "index.html").read_text()
    bad = ('<pre class="output" style="white-space: pre; overflow-x: auto">' + "x" * 300 + "</pre>"
           + "<p>tall</p>" * 40 + '<p style="font-size: 10px">tiny</p>'
           + '<img src="https://example.org/figure.png" width="10" height="10">')
    page = re.sub(r'<div class="frame"[^>]*>', lambda m: m.group(0) + bad, page, count=1)
    (broken / "index.html").write_text(page)
    report = check.check_deck(broken / "index.html")
    problems = "\n".join(report["problems"])
    assert "taller than the slide" in problems and "below the slide" in problems
    assert "cut off at the right" in problems and "text at 10.0 px" in problems
    assert report["external"] == ["https://example.org/figure.png"]


def test_markdown_is_split_into_blocks_with_list_items_apart():
    blocks = build_slides.markdown_blocks(
        "## Title\n\nA paragraph\nover two lines.\n\n1. one\n2. two\n   continued\n\n$$\na = b\n$$\n\n### Sub\n- x")
    assert [kind for kind, _ in blocks] == ["heading", "prose", "list", "list", "math", "heading", "list"]
    assert blocks[3][1] == "2. two\n   continued"
    assert build_slides.md_to_html("3. three").startswith('<ol start="3">')   # a list continued keeps its numbers


def test_an_exercise_stated_only_in_its_code_shows_its_task_not_its_code():
    cell = ("# Exercise 2: the Bregman divergence in the logits\ndef f():\n"
            "    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    assert build_slides.exercise_task(cell, "\n**Exercise 3 (open).** More.") == \
        "**Exercise 2.** the Bregman divergence in the logits"
    assert build_slides.exercise_task(cell, "\n1. One.\n2. **Bregman.** Write it.") is None   # already stated
    assert build_slides.exercise_task("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION", "") is None


def test_interact_becomes_a_static_grid_call():
    source = 'label = "λ·η"; interact(show, a=FloatSlider(value=1, min=0, max=2, description="η"))'
    out = build_slides.static_interact(source)
    assert out == 'label = "λ·η"; _deck_widget_grid(show, a=FloatSlider(value=1, min=0, max=2, description="η"))'
    with pytest.raises(ValueError, match="no interact"):
        build_slides.static_interact("show(1)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_paginates_without_its_solutions(path):
    """Pagination of the stored notebook (no outputs, nothing executed): sections, estimated heights in budget."""
    nb = build_slides.prepare(nbformat.read(path, as_version=4), path.name)
    sections = build_slides.paginate(nb)
    headings = [c for c in nb.cells if c.cell_type == "markdown" and re.match(r"##? ", c.source.lstrip())]
    assert len(sections) >= 5 and len(sections) >= len(headings)
    assert not any(tag_slides.is_exercise(c.source) for c in nb.cells if c.cell_type == "code")
    for column in sections:
        for slide in column:
            if len(slide.blocks) > 1:
                assert slide.used <= build_slides.BUDGET + 1, (path.name, [b.source[:40] for b in slide.blocks])


@pytest.mark.slow
@needs_chromium
@pytest.mark.skipif(not BUILT, reason="no built decks in build/slides/ (run `make slides` to build and check them)")
@pytest.mark.parametrize("index", BUILT, ids=lambda p: p.parent.name)
def test_built_deck_fits_requests_nothing_and_shows_no_solution(index):
    report = check.check_deck(index)
    manifest = json.loads((index.parent / "deck.json").read_text())
    assert report["problems"] == [], "\n".join(report["problems"])
    assert report["external"] == [] and report["errors"] == []
    assert report["figures"] == manifest["figures"]
    notebook = ROOT / "notebooks" / manifest["notebook"]
    assert check.solution_leaks(report, notebook) == []
    if notebook.exists():
        assert report["title"] == build_slides.notebook_title(nbformat.read(notebook, as_version=4))
