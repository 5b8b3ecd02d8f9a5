"""Lecture decks: built from the notebooks, with no script or style from the network, and math typeset."""
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest
from conftest import load_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
build_slides = load_script("slides/build.py")


pytestmark = pytest.mark.skipif(
    shutil.which("npm") is None and not (ROOT / "slides" / "node_modules" / "reveal.js").exists(),
    reason="Node.js/npm is not installed, so reveal.js and MathJax cannot be installed for the decks")


@pytest.fixture(scope="module")
def deck():
    out = ROOT / "build" / "slides"
    return build_slides.build(ROOT / "notebooks" / "00_jax_essentials.ipynb", out)


def test_deck_loads_nothing_from_the_network(deck):
    html = deck.read_text()
    scripts = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    styles = re.findall(r'<link[^>]*\bhref="([^"]+)"', html)
    assert scripts and styles
    for url in scripts + styles:
        assert not re.match(r"(https?:)?//", url), f"external resource in the deck: {url}"
    for url in scripts + styles:  # and every local one is really there
        assert (deck.parent / url.split("?")[0]).exists(), f"missing local file {url}"
    assert not re.search(r'import\s+\w+\s+from\s+["\']https?://', html), "a module import from a CDN"
    assert "reveal.js" in html and "MathJax.js" in html


def test_deck_has_slides_figures_and_math(deck):
    html = deck.read_text()
    assert html.count("<section") >= 10  # one per section heading of the notebook
    assert "data:image/png;base64" in html  # the float32/float64 figure, computed when the deck was built
    assert "\\frac{d}{d\\varepsilon}" in html  # TeX left for MathJax to typeset in the browser


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_math_is_typeset_in_headless_chromium(deck):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={tempfile.mkdtemp()}", "--virtual-time-budget=15000"]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", deck.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert re.search(r'id="MathJax-Element-\d+-Frame"', dom), "MathJax did not typeset the math"
    png = pathlib.Path(tempfile.mkdtemp()) / "first_slide.png"
    subprocess.run(["chromium", *flags, f"--screenshot={png}", "--window-size=1280,720", deck.as_uri()],
                   capture_output=True, timeout=120)
    assert png.exists() and png.stat().st_size > 10_000


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.name)
def test_every_notebook_makes_a_deck_with_one_slide_per_section(path):
    import nbformat
    nb = build_slides.add_slide_breaks(nbformat.read(path, as_version=4))
    kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    sections = [c for c in nb.cells if c.cell_type == "markdown" and c.source.lstrip().startswith("## ")]
    assert kinds[0] == "slide" and kinds.count("slide") >= len(sections) + 1 >= 5
    assert not nb.cells[0].source.startswith("[![Open In Colab]")
