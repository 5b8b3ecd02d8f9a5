"""Build offline reveal.js lecture decks from the notebooks:  make slides   (→ build/slides/NN_…/index.html)

    python slides/build.py                          # every notebook
    python slides/build.py 06_influence_cnn.ipynb   # some of them
    python slides/build.py --out DIR NOTEBOOK.ipynb # any notebook, into DIR/<name>/

Each deck is one folder (index.html, deck.json and assets/ with reveal.js, MathJax's single-file SVG build and
the deck's stylesheet): copy the folder and it still works, with no network. The notebook is executed to build
it, so every figure comes from the same course_utils code the students run.

What a slide shows comes from the cells' ``slideshow`` metadata and ``slides-`` tags, written from the notebooks'
content by tools/tag_slides.py (a stale notebook is re-tagged in memory, with a warning). This script adds what
needs the outputs: it packs each section's prose, code and results onto a 1280×720 slide and continues on
sub-slides, at paragraph and list-item boundaries, where the estimated height would not fit; it gives each figure
a sub-slide of its own under the section's title and key equation; and it replaces every ``interact`` widget by a
static grid of the function at a few settings (course_utils.plots.widget_grid). Exercise code (the solutions) is
removed before the notebook runs, and the finished deck is checked for solution text.
"""
import argparse
import base64
import dataclasses
import hashlib
import html
import json
import pathlib
import re
import struct
import sys
import warnings

import jinja2
import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
NODE = ROOT / "slides" / "node_modules"
TEMPLATES = ROOT / "slides" / "templates"
sys.path.insert(0, str(ROOT / "tools"))
import make_student  # noqa: E402  (tools/ is not a package)
import tag_slides  # noqa: E402

ASSETS = {  # copied into every deck's assets/ folder
    "reveal.js": NODE / "reveal.js" / "dist" / "reveal.js",
    "reveal.css": NODE / "reveal.js" / "dist" / "reveal.css",
    "mathjax-tex-svg.js": NODE / "mathjax" / "es5" / "tex-svg-full.js",
    "deck.css": TEMPLATES / "deck.css",
}

# The slide's geometry in CSS pixels; templates/deck.css uses the same numbers. Heights below are estimates
# (tests/test_slides.py measures the real ones in Chromium): they err on the tall side.
SLIDE_W, SLIDE_H = 1280, 720
PAD_X, PAD_TOP, PAD_BOTTOM = 56, 28, 40
BUDGET = SLIDE_H - PAD_TOP - PAD_BOTTOM - 24         # height available for content, less a safety margin
TEXT_W = SLIDE_W - 2 * PAD_X
PROSE = dict(size=24, line=1.35, char=0.56)          # font size px, line height, mean glyph width (em)
HEADINGS = {1: dict(size=44, line=1.15, char=0.6, margin=18), 2: dict(size=34, line=1.2, char=0.6, margin=14),
            3: dict(size=28, line=1.2, char=0.6, margin=12)}
CODE = dict(size=18, line=1.3, char=0.61, pad=20, margin=12)
OUTPUT = dict(size=18, line=1.25, char=0.61, pad=10, margin=12)
KICKER_H = 40                                        # the section title above a continuation or figure slide
MIN_FIGURE_H = 400                                   # a figure never gets less height than this
PARAGRAPH_GAP = 14
LIST_INDENT = 40

INJECTED = "# deck builder: crisp figures, and interact() replaced by a static grid\n" \
           "%config InlineBackend.figure_formats = ['png']\n" \
           "%config InlineBackend.rc = {'figure.dpi': 130, 'savefig.dpi': 130}\n" \
           "def _deck_widget_grid(fn, /, **controls):\n" \
           "    import matplotlib.pyplot as _plt\n" \
           "    from course_utils.plots import widget_grid\n" \
           "    widget_grid(fn, **controls)\n" \
           "    _plt.show()\n"


# ---------------------------------------------------------------------------------------------------- notebook
def prepare(nb, name="notebook"):
    """The copy of `nb` the deck is built from: tagged, exercise code removed, interact() made static."""
    tagged = tag_slides.tag(nb)
    if nbformat.writes(tagged) != nbformat.writes(nbformat.from_dict(nb)):
        warnings.warn(f"{name}: slide tags are out of date (run python tools/tag_slides.py); "
                      "building with the tags computed now", stacklevel=2)
    cells = []
    markdown = "\n".join(c.source for c in tagged.cells if c.cell_type == "markdown")
    markdown = re.split(r"^#+\s*Exercises\b", markdown, flags=re.M)[-1]   # what the Exercises section states
    for cell in tagged.cells:
        if cell.cell_type == "code" and tag_slides.is_exercise(cell.source):
            task = exercise_task(cell.source, markdown)  # the solutions: never run, never shown
            if task:
                cells.append(nbformat.v4.new_markdown_cell(task, metadata={"slideshow": {"slide_type": "-"}}))
            continue
        if tag_slides.GRID in cell.metadata.get("tags", []):
            cell.source = static_interact(cell.source)
        cells.append(cell)
    injected = nbformat.v4.new_code_cell(INJECTED, metadata={"slideshow": {"slide_type": "skip"}})
    tagged.cells = [injected, *cells]
    tagged.metadata.pop("widgets", None)
    return tagged


def exercise_task(source, markdown):
    """An exercise whose task is stated only in its code cell's first comment line (the line make_student.py
    keeps as the stub's hint), as markdown for the deck: "**Exercise 2.** the Bregman divergence …".
    None when the notebook's Exercises section already states it (as "Exercise 2" or a list item "2.")."""
    match = re.match(r"#\s*Exercise\s+(\d+)\s*[:.]\s*(.+)", source.lstrip().splitlines()[0])
    if not match:
        return None
    number, task = match.groups()
    if re.search(rf"Exercise {number}\b|^\s*{number}\.\s", markdown, flags=re.M):
        return None
    return f"**Exercise {number}.** {task.strip()}"


def static_interact(source):
    """The cell with each ``interact(fn, …)`` call replaced by the same call to widget_grid (see INJECTED)."""
    tree = tag_slides.parse(source)
    calls = tag_slides.interact_calls(tree) if tree else []
    if not calls:
        raise ValueError("a cell tagged slides-widget-grid has no interact(fn, …) call to make static")
    lines = source.splitlines()
    for call in sorted(calls, key=lambda c: (c.func.lineno, c.func.col_offset), reverse=True):
        row = lines[call.func.lineno - 1]
        start = len(row.encode()[:call.func.col_offset].decode())   # ast offsets count UTF-8 bytes
        lines[call.func.lineno - 1] = row[:start] + "_deck_widget_grid" + row[start + len("interact"):]
    return "\n".join(lines)


def execute(nb, cwd):
    NotebookClient(nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


# ------------------------------------------------------------------------------------------ blocks and heights
@dataclasses.dataclass
class Block:
    kind: str                  # heading, prose, list, math, code, output, figure
    html: str
    height: float              # estimated, CSS px (a figure's is its minimum)
    brk: str = ""              # "slide" or "subslide": must start one
    level: int = 0             # heading level
    keep_with_next: bool = False
    source: str = ""           # markdown source (list items are merged when rendered)
    opens_figure_cell: bool = False   # first block of a cell that draws a figure
    cell: int = -1                    # the cell it comes from (a figure's slide ends with its cell)


def _lines(chars, width, font):
    per_line = max(1, int(width / (font["size"] * font["char"])))
    return max(1, -(-chars // per_line))


def visible_text(markdown):
    """Roughly the characters a markdown snippet shows: markup dropped, TeX commands counted as one glyph."""
    def math(match):
        tex = re.sub(r"\\(left|right|big|Big|bigg|,|;|quad|qquad|!|displaystyle)\b", "", match.group(1))
        tex = re.sub(r"\\[A-Za-z]+", "x", tex)
        return re.sub(r"[{}^_\s]", "", tex)
    text = re.sub(r"\$([^$]+)\$", math, markdown)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[*`]|^#+\s*|^\s*(\d+[.)]|[-*+])\s+", "", text, flags=re.M)
    return " ".join(text.split())


TALL_TEX = re.compile(r"\\(frac|tfrac|dfrac|sum|prod|int|underbrace|overbrace|hat|tilde|sqrt|top|big|Big)")


def prose_height(markdown, indent=0):
    lines = _lines(len(visible_text(markdown)), TEXT_W - indent, PROSE)
    inline_math = re.findall(r"\$([^$]+)\$", markdown)
    taller = min(lines, sum(bool(TALL_TEX.search(m)) for m in inline_math)) * 7   # a fraction or ⊤ stretches its line
    return lines * PROSE["size"] * PROSE["line"] + taller + PARAGRAPH_GAP


def math_height(tex):
    rows = tex.count("\\\\") + 1
    tall = any(k in tex for k in ("\\frac", "\\sum", "\\underbrace", "\\int", "\\tfrac", "\\big", "\\left"))
    return rows * (76 if tall else 50) + 24 + (50 if "\\underbrace" in tex else 0)


def mono_height(text, font):
    width = TEXT_W - font["pad"]
    rows = sum(_lines(len(line), width, font) for line in text.rstrip("\n").split("\n"))
    return rows * font["size"] * font["line"] + font["pad"] + font["margin"]


def markdown_blocks(source):
    """Top-level blocks of a markdown cell, in order: headings, paragraphs, display math, fenced code, tables,
    and one block per list item, so a long list continues on the next slide with its numbering."""
    blocks, current, kind, fence = [], [], None, None

    def flush():
        nonlocal current, kind
        if current:
            blocks.append((kind, "\n".join(current)))
        current, kind = [], None

    for line in source.splitlines():
        stripped = line.strip()
        if fence:                                            # inside ``` or $$ … $$
            current.append(line)
            if stripped.startswith(fence) or (fence == "$$" and stripped.endswith("$$")):
                fence = None
                flush()
            continue
        if not stripped:
            flush()
        elif stripped.startswith("```"):
            flush(); kind, fence = "code", "```"; current.append(line)
        elif stripped.startswith("$$"):
            flush(); kind = "math"; current.append(line)
            if not (len(stripped) > 2 and stripped.endswith("$$")):
                fence = "$$"
            else:
                flush()
        elif re.match(r"#{1,6}\s", stripped):
            flush(); blocks.append(("heading", stripped))
        elif re.match(r"(\d+[.)]|[-*+])\s", stripped) and not line.startswith("    "):
            flush(); kind = "list"; current.append(line)
        elif stripped.startswith("|"):
            if kind != "table":
                flush(); kind = "table"
            current.append(line)
        else:
            if kind is None:
                kind = "prose"
            current.append(line)
    flush()
    return blocks


def md_to_html(markdown):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    return re.sub(r'<a class="anchor-link"[^>]*>.*?</a>', "", markdown2html_mistune(markdown))


def markdown_cell_blocks(source, brk):
    out = []
    for kind, text in markdown_blocks(source):
        if kind == "heading":
            level = len(text) - len(text.lstrip("#"))
            font = HEADINGS.get(level, HEADINGS[3])
            height = _lines(len(visible_text(text)), TEXT_W, font) * font["size"] * font["line"] + font["margin"]
            b = Block("heading", md_to_html(text), height, level=level, keep_with_next=True, source=text,
                      brk="slide" if level <= 2 else "subslide")
        elif kind == "math":
            b = Block("math", md_to_html(text), math_height(text), source=text)
        elif kind == "list":
            b = Block("list", "", prose_height(text, LIST_INDENT) - PARAGRAPH_GAP / 2, source=text)
        elif kind == "code":
            b = Block("code", md_to_html(text), mono_height(text, CODE), source=text)
        elif kind == "table":
            b = Block("table", md_to_html(text), 42 * (text.count("\n") + 1) + PARAGRAPH_GAP, source=text)
        else:
            b = Block("prose", md_to_html(text), prose_height(text), source=text)
            if len(visible_text(text)) < 140 and text.strip().endswith((":", ".**")):
                b.keep_with_next = True  # a lead-in ("Learning objectives." …) stays with what follows
        out.append(b)
    if out and brk and not out[0].brk:
        out[0].brk = brk
    return out


def _png_size(data):
    raw = base64.b64decode(data)
    return struct.unpack(">II", raw[16:24])


def highlight(code):
    from pygments import highlight as pyg
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    return pyg(code, PythonLexer(), HtmlFormatter(nowrap=True))


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def output_blocks(cell):
    """Blocks for a code cell's outputs: merged printed text, and each figure (stderr and widgets dropped)."""
    out, text = [], []

    def flush():
        if text:
            joined = ANSI.sub("", "".join(text)).rstrip("\n")
            for chunk in split_lines(joined, OUTPUT):
                out.append(
                    Block("output", f'<pre class="output">{html.escape(chunk)}</pre>', mono_height(chunk, OUTPUT))
                )
            text.clear()

    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            if o.name == "stdout":
                text.append(o.text)
            continue
        if o.output_type == "error":
            raise RuntimeError("a cell failed while building the deck")
        data = o.get("data", {})
        if "image/png" in data:
            flush()
            w, h = _png_size(data["image/png"])
            out.append(Block("figure", f'<img src="data:image/png;base64,{data["image/png"].strip()}" '
                                       f'width="{w}" height="{h}" alt="figure">', MIN_FIGURE_H))
        elif "image/svg+xml" in data:
            flush()
            svg = base64.b64encode(data["image/svg+xml"].encode()).decode()
            out.append(Block("figure", f'<img src="data:image/svg+xml;base64,{svg}" alt="figure">', MIN_FIGURE_H))
        elif "text/markdown" in data:
            flush()
            out.extend(markdown_cell_blocks(data["text/markdown"], ""))
        elif "text/plain" in data and "application/vnd.jupyter.widget-view+json" not in data:
            text.append(data["text/plain"] + "\n")
    flush()
    return out


def split_lines(text, font, budget=BUDGET - KICKER_H - 20):
    """Text too tall for one slide, cut into chunks of whole lines that each fit."""
    chunks, current = [], []
    for line in text.split("\n"):
        if current and mono_height("\n".join(current + [line]), font) > budget:
            chunks.append("\n".join(current))
            current = []
        current.append(line)
    chunks.append("\n".join(current))
    return chunks


def figure_outputs(cell):
    return [o for o in cell.get("outputs", []) if {"image/png", "image/svg+xml"} & set(o.get("data", {}))]


def code_blocks(cell, brk):
    tags = cell.metadata.get("tags", [])
    kind = cell.metadata.get("slideshow", {}).get("slide_type", "-")
    if kind in ("skip", "notes"):
        if not figure_outputs(cell):
            return []
        warnings.warn("a cell tagged skip drew a figure: shown anyway (every figure belongs on a slide)")
        tags, brk = [*tags, tag_slides.HIDE], "subslide"
    blocks = []
    if tag_slides.HIDE not in tags:
        source = cell.source.rstrip()
        for chunk in split_lines(source, CODE):
            blocks.append(Block("code", f'<pre class="code"><code>{highlight(chunk)}</code></pre>',
                                mono_height(chunk, CODE), keep_with_next=True))
    blocks += output_blocks(cell)
    if blocks and brk:
        blocks[0].brk = brk
    if blocks:
        blocks[0].opens_figure_cell = any(b.kind == "figure" for b in blocks)
    return blocks


# ------------------------------------------------------------------------------------------------- packing
@dataclasses.dataclass
class Slide:
    blocks: list
    kicker: str = ""          # the section title, on continuation and figure slides
    used: float = 0.0
    overflow: bool = False    # started because the previous slide was full

    def room(self):
        return BUDGET - self.used - (KICKER_H if self.kicker else 0)

    def has_figure(self):
        return any(b.kind == "figure" for b in self.blocks)


def title_blocks(cell):
    """The title slide shows the title and the learning objectives; the introduction follows on a sub-slide."""
    source = "\n".join(line for line in cell.source.splitlines() if not line.startswith("[!["))
    blocks = markdown_cell_blocks(source, "slide")
    start = next((i for i, b in enumerate(blocks) if "Learning objectives" in b.source), None)
    if start is None:
        return blocks
    end = start + 1
    while end < len(blocks) and blocks[end].kind == "list":
        end += 1
    intro = blocks[1:start] + blocks[end:]
    if intro:
        intro[0].brk = "subslide"
    return [blocks[0], *blocks[start:end], *intro]


def key_equation(section_blocks):
    """The section's latest display equation so far (shown again above the section's figures), if short."""
    maths = [b for b in section_blocks if b.kind == "math"]
    return maths[-1] if maths and maths[-1].height <= 170 else None


def cell_blocks(nb):
    """Every block the deck shows, in order, each knowing its cell."""
    blocks = []
    for index, cell in enumerate(nb.cells):
        kind = cell.metadata.get("slideshow", {}).get("slide_type", "-")
        brk = kind if kind in ("slide", "subslide") else ""
        if kind in ("skip", "notes"):
            continue
        if cell.cell_type == "markdown":
            if tag_slides.heading_level(cell.source) == 1 and not blocks:
                new = title_blocks(cell)
            else:
                new = markdown_cell_blocks(cell.source, brk)
        elif cell.cell_type == "code":
            new = code_blocks(cell, brk)
        else:
            new = []
        for b in new:
            b.cell = index
        blocks += new
    return blocks


def paginate(nb):
    """[[Slide, …] per section]: each section a reveal.js column, its first slide on top.

    A block goes on the current slide if its estimated height fits (a heading or a lead-in together with what
    follows it); otherwise a sub-slide continues the section under its title. A figure fills a slide of its
    own (with its cell's printed lines, and the section's key equation above it when there is room); what
    follows a figure starts the next slide. Printed results alone on a slide are joined by the figure that
    follows them if it still gets MIN_FIGURE_H.
    """
    blocks = cell_blocks(nb)
    cell_height = {}
    for b in blocks:
        cell_height[b.cell] = cell_height.get(b.cell, 0) + b.height
    sections, seen, title = [], [], ""                 # seen: this section's blocks so far (for its equation)
    for i, block in enumerate(blocks):
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if block.brk == "slide" or not sections:
            title = re.sub(r"^#+\s*", "", block.source) if block.kind == "heading" else title
            sections.append([Slide([])])
            seen = []
        slide = sections[-1][-1]
        need = block.height + (nxt.height if block.keep_with_next and nxt and nxt.brk == "" else 0)
        if block.kind == "figure" and nxt is not None and nxt.kind == "output" and nxt.cell == block.cell:
            need += nxt.height
        after_figure = slide.has_figure() and (block.kind == "figure" or block.cell != slide.blocks[-1].cell)
        forced = block.brk == "subslide"
        if forced and block.opens_figure_cell and slide.kicker and slide.blocks \
                and all(b.kind == "output" for b in slide.blocks) and cell_height[block.cell] <= slide.room():
            forced = False  # results, then the figure they lead to
        overflow = bool(slide.blocks) and (
            need > slide.room() or (block.kind == "figure" and block.height > slide.room())
        )
        new = bool(slide.blocks) and (forced or overflow or after_figure)
        if forced and not slide.blocks and len(sections[-1]) > 1:
            new = False                                 # an empty continuation slide already waits
        if new:
            slide = Slide([], kicker=title if block.kind != "heading" else "", overflow=overflow and not forced)
            sections[-1].append(slide)
        if (block.kind == "figure" or block.opens_figure_cell) and not slide.blocks:
            eq = key_equation(seen)
            if eq is not None and slide.room() - eq.height >= MIN_FIGURE_H:
                copy = dataclasses.replace(eq)
                slide.blocks.append(copy)
                slide.used += copy.height
        slide.blocks.append(block)
        slide.used += block.height
        seen.append(block)
    for column in sections:
        for a, b in zip(column, column[1:]):
            if b.overflow:
                balance(a, b)
    return sections


def balance(a, b):
    """Slide b continues a's paragraphs or list: move a's last blocks over while that evens out the two heights
    (so a split list leaves no lone item behind), keeping a heading or lead-in with what follows it."""
    def total(s):
        return s.used + (KICKER_H if s.kicker else 0)
    movable = ("prose", "list")
    while len(a.blocks) > 1 and b.blocks and a.blocks[-1].kind in movable and a.blocks[-1].cell == b.blocks[0].cell:
        run = [a.blocks[-1]]
        while len(a.blocks) > len(run) + 1 and a.blocks[-len(run) - 1].keep_with_next:
            run.insert(0, a.blocks[-len(run) - 1])      # a lead-in goes with its paragraph
        h = sum(x.height for x in run)
        if b.room() < h or total(a) - h < total(b) + h or any(x.kind == "heading" for x in run):
            break
        del a.blocks[-len(run):]
        b.blocks[:0] = run
        a.used -= h
        b.used += h


# ----------------------------------------------------------------------------------------------- rendering
def render_slide(slide):
    parts, run = [], []

    def flush_lists():
        if run:
            parts.append(md_to_html("\n".join(b.source for b in run)))
            run.clear()

    if slide.kicker:                                  # (escaped: "1. Title" is not a list)
        kicker = md_to_html(re.sub(r"^(\d+)([.)])", r"\1\\\2", slide.kicker))
        parts.append(f'<div class="kicker">{kicker}</div>')
    for b in slide.blocks:
        if b.kind == "list":
            run.append(b)
            continue
        flush_lists()
        if b.kind == "figure":
            parts.append(f'<div class="figure">{b.html}</div>')
        else:
            parts.append(b.html)
    flush_lists()
    cls = "frame has-figure" if slide.has_figure() else "frame"
    estimate = round(slide.used + (KICKER_H if slide.kicker else 0))
    return f'<div class="{cls}" data-estimate="{estimate}">\n' + "\n".join(parts) + "\n</div>"


def notebook_title(nb):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return re.sub(r"[*`]", "", line[2:]).strip()
    return "Lecture"


def solution_lines(nb):
    """Lines of the notebook's solutions that appear nowhere else in its code (those must never reach a deck)."""
    other = set()
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if tag_slides.is_exercise(cell.source):
            inside = False
            for line in cell.source.splitlines():
                text = line.strip()
                if text in make_student.MARKERS:
                    inside = True
                elif text in make_student.MARKERS.values():
                    inside = False
                elif inside and len(text) >= 12:
                    found.append(text)
        else:
            other.update(line.strip() for line in cell.source.splitlines())
    return [line for line in found if line not in other]


def deck_text(page):
    """The text a deck can show: its markup with tags removed and entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def build(path, out_root=ROOT / "build" / "slides", *, run=True):
    """Execute notebook `path` and write its deck to out_root/<name>/ (index.html, deck.json, assets/).

    ``run=False`` lays out the outputs the notebook already holds instead (a notebook executed elsewhere);
    its interact() cells then have no grid."""
    path = pathlib.Path(path)
    missing = [str(p) for p in ASSETS.values() if not p.exists()]
    if missing:
        raise FileNotFoundError(f"missing {missing}: run `npm ci` in slides/ (make slides does)")
    original = nbformat.read(path, as_version=4)
    nb = prepare(original, path.name)
    if run:
        execute(nb, path.parent)
    sections = paginate(nb)
    title = notebook_title(original)
    figures = sum(b.kind == "figure" for s in sections for sl in s for b in sl.blocks)
    drawn = sum(len(figure_outputs(c)) for c in nb.cells if c.cell_type == "code")
    if figures != drawn:
        raise RuntimeError(f"{path.name}: the notebook drew {drawn} figures but the deck places {figures}")
    template = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False) \
        .get_template("deck.html.j2")
    from pygments.formatters import HtmlFormatter
    page = template.render(title=html.escape(title), slides=[[render_slide(s) for s in sec] for sec in sections],
                           pygments_css=HtmlFormatter(style="default").get_style_defs(".code"),
                           width=SLIDE_W, height=SLIDE_H)
    text = deck_text(page)
    leaks = [line for line in solution_lines(original) if line in text]
    if leaks or "### BEGIN SOLUTION" in text or "### BEGIN HIDDEN TESTS" in text:
        raise RuntimeError(f"{path.name}: solution text reached the deck: {leaks[:3]}")

    deck = pathlib.Path(out_root) / path.stem
    assets = deck / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    for name, source in ASSETS.items():
        data = source.read_bytes()
        if name.endswith(".js"):                     # no source-map lookups: the maps are not shipped
            data = re.sub(rb"\n//# sourceMappingURL=\S+\s*$", b"\n", data)
        (assets / name).write_bytes(data)
    (deck / "index.html").write_text(page)
    manifest = {"notebook": path.name, "title": title, "sections": len(sections),
                "slides": sum(len(s) for s in sections), "figures": figures,
                "notebook_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    (deck / "deck.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return deck / "index.html"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebook names in notebooks/ or paths (default: all)")
    parser.add_argument("--out", default=str(ROOT / "build" / "slides"))
    args = parser.parse_args(argv)
    if not (NODE / "reveal.js").exists():
        sys.exit("slides/node_modules is missing: run `make slides` (it runs `npm ci` in slides/ first).")
    paths = [pathlib.Path(n) if pathlib.Path(n).exists() else ROOT / "notebooks" / n for n in args.notebooks] \
        or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        target = build(path, args.out)
        info = json.loads((target.parent / "deck.json").read_text())
        print(f"{path.name} -> {target}  ({info['slides']} slides, {info['figures']} figures)")


if __name__ == "__main__":
    main()
