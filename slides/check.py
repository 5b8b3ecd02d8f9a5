"""Check built decks in headless Chromium:  python slides/check.py [build/slides/*/index.html]

Opens each deck at 1280×720 in Debian's chromium (driven by Playwright; no browser is ever downloaded), records
every request the page makes while it loads and while every slide is shown in turn, and on each slide measures:

  * overflow: any element reaching outside the slide, or a box whose content is clipped (taller or wider than
    the box, e.g. a code line cut off at the right edge);
  * figures: every image loaded, and drawn at least 360×200 px (so a figure is never a thumbnail);
  * text: the smallest font size of any text (the decks use 18 px and up; the check fails below 16 px);
  * math: TeX source left untypeset;
  * solutions: no line of the notebook's exercise solutions in the text of any slide.

Prints one line per deck and exits 1 on any problem. tests/test_slides.py uses the same `check_deck`.
"""
import contextlib
import json
import pathlib
import sys

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 720}
MIN_FONT_PX = 16
MIN_FIGURE = (360, 200)

# Runs in the page on the slide being shown; returns its problems and what it holds.
MEASURE = r"""
() => {
  const slide = Reveal.getCurrentSlide();
  const frame = slide.querySelector(':scope > .frame') || slide;
  const box = document.querySelector('.reveal .slides').getBoundingClientRect();
  const scale = box.width / Reveal.getConfig().width;
  const tol = 1.5;
  const px = v => Math.round(v / scale);
  const describe = el => {
    const text = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 50);
    const cls = el.className && typeof el.className === 'string' ? ' class="' + el.className + '"' : '';
    return `<${el.tagName.toLowerCase()}${cls}> "${text}"`;
  };
  const problems = [];
  if (box.left < -tol || box.top < -tol || box.right > innerWidth + tol || box.bottom > innerHeight + tol)
    problems.push('the slide is larger than the window');
  if (frame.scrollHeight > frame.clientHeight + tol)
    problems.push(`content is ${px(frame.scrollHeight - frame.clientHeight)} px taller than the slide`);
  if (frame.scrollWidth > frame.clientWidth + tol)
    problems.push(`content is ${px(frame.scrollWidth - frame.clientWidth)} px wider than the slide`);
  let minFont = 1e9, minFontAt = '';
  const images = [];
  for (const el of frame.querySelectorAll('*')) {
    if (el.closest('mjx-assistive-mml')) continue;   // MathJax's copy for screen readers, clipped on purpose
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden' || (r.width === 0 && r.height === 0)) continue;
    if (r.bottom > box.bottom + tol)
      problems.push(`${describe(el)} ends ${px(r.bottom - box.bottom)} px below the slide`);
    if (r.right > box.right + tol)
      problems.push(`${describe(el)} ends ${px(r.right - box.right)} px right of the slide`);
    if (r.left < box.left - tol) problems.push(`${describe(el)} starts left of the slide`);
    if (r.top < box.top - tol) problems.push(`${describe(el)} starts above the slide`);
    if (el instanceof HTMLElement && el.tagName !== 'IMG') {
      if (style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + tol)
        problems.push(`${describe(el)} is clipped: ${px(el.scrollWidth - el.clientWidth)} px cut off at the right`);
      if (style.overflowY !== 'visible' && el.scrollHeight > el.clientHeight + tol)
        problems.push(`${describe(el)} is clipped: ${px(el.scrollHeight - el.clientHeight)} px cut off at the bottom`);
    }
    const ownText = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (ownText && !el.closest('svg') && parseFloat(style.fontSize) < minFont) {
      minFont = parseFloat(style.fontSize);
      minFontAt = describe(el);
    }
    if (el.tagName === 'IMG') {
      // the picture inside an object-fit: contain box
      const k = Math.min(r.width / el.naturalWidth, r.height / el.naturalHeight);
      images.push({loaded: el.complete && el.naturalWidth > 0,
                   width: px(el.naturalWidth * k), height: px(el.naturalHeight * k)});
    }
  }
  const raw = [];
  const walker = document.createTreeWalker(frame, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest('pre, code, mjx-container')) continue;
    const m = node.textContent.match(/\$[^$]*\\[A-Za-z]+|\\(frac|lambda|theta|nabla|mathcal|sum|top)\b/);
    if (m) raw.push(m[0]);
  }
  // how tall the content is (slides/build.py writes its estimate into data-estimate, for tuning)
  const top = frame.getBoundingClientRect().top + parseFloat(getComputedStyle(frame).paddingTop) * scale;
  const bottoms = [...frame.children].map(c => c.classList.contains('figure') ? c.getBoundingClientRect().top
                                                                            : c.getBoundingClientRect().bottom);
  const used = bottoms.length ? px(Math.max(...bottoms) - top) : 0;
  const indices = Reveal.getIndices();
  return {h: indices.h, v: indices.v || 0, problems, math: frame.querySelectorAll('mjx-container').length,
          minFont: minFont === 1e9 ? null : minFont, minFontAt, images, raw, used,
          estimate: frame.dataset.estimate ? +frame.dataset.estimate : null,
          text: frame.textContent};
}
"""

SLIDES = r"""
() => Reveal.getHorizontalSlides().flatMap((column, h) => {
  const rows = column.querySelectorAll(':scope > section');
  return rows.length ? [...rows].map((_, v) => [h, v]) : [[h, 0]];
})
"""


def chromium_available():
    return pathlib.Path(CHROMIUM).exists()


def check_deck(index_html, browser=None):
    """Open one deck and step through every slide. Returns a dict: title, slides (each with its problems),
    problems (all of them, as text), requests (every URL the page asked for), external (those not file: or
    data:), errors (script errors), figures, math (typeset formulas), min_font, text (per slide)."""
    from playwright.sync_api import sync_playwright

    url = pathlib.Path(index_html).resolve().as_uri()
    with (sync_playwright() if browser is None else contextlib.nullcontext()) as pw:
        own = browser is None
        if own:
            browser = launch(pw)
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        requests, errors = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url, wait_until="load")
        page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=60_000)
        page.evaluate("""() => !window.MathJax ? null : MathJax.startup ? MathJax.startup.promise
                              : MathJax.Hub ? new Promise(done => MathJax.Hub.Queue(done)) : null""")  # typeset
        page.evaluate("() => Reveal.configure({transition: 'none', backgroundTransition: 'none'})")  # measure at rest
        page.evaluate("() => Promise.all([...document.images].map(i => i.decode().catch(() => null)))")
        report = {"title": page.title(), "slides": [], "figures": 0, "min_font": None, "math": 0, "text": []}
        for h, v in page.evaluate(SLIDES):
            page.evaluate(f"() => Reveal.slide({h}, {v})")
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            m = page.evaluate(MEASURE)
            problems = list(m["problems"])
            for image in m["images"]:
                report["figures"] += 1
                if not image["loaded"]:
                    problems.append("an image did not load")
                elif image["width"] < MIN_FIGURE[0] and image["height"] < MIN_FIGURE[1]:
                    problems.append(f"a figure is drawn only {image['width']}×{image['height']} px")
            if m["minFont"] is not None:
                if m["minFont"] < MIN_FONT_PX:
                    problems.append(f"text at {m['minFont']:.1f} px: {m['minFontAt']}")
                report["min_font"] = min(report["min_font"] or 1e9, m["minFont"])
            if m["raw"]:
                problems.append(f"untypeset TeX: {m['raw'][:2]}")
            report["slides"].append(
                {"h": h, "v": v, "problems": problems, "used": m["used"], "estimate": m["estimate"]}
            )
            report["text"].append(m["text"])
            report["math"] += m["math"]
        page.evaluate("() => Reveal.slide(0, 0)")
        context.close()
        if own:
            browser.close()
    report["requests"] = requests
    report["external"] = [u for u in requests if not u.startswith(("file:", "data:"))]
    report["errors"] = errors
    report["problems"] = [f"slide {s['h'] + 1}.{s['v'] + 1}: {p}" for s in report["slides"] for p in s["problems"]]
    return report


def launch(pw):
    """Debian's chromium, headless, with nothing of its own going to the network."""
    return pw.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-features=Translate,OptimizationHints,MediaRouter"])


def solution_leaks(report, notebook):
    """Lines of the notebook's exercise solutions found in the text of any slide (none, if the notebook is gone)."""
    if not notebook.exists():
        return []
    import nbformat
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    import build

    text = "\n".join(report["text"])
    return [line for line in build.solution_lines(nbformat.read(notebook, as_version=4)) if line in text]


def main(paths):
    from playwright.sync_api import sync_playwright

    root = pathlib.Path(__file__).resolve().parents[1]
    paths = paths or sorted(str(p) for p in (root / "build" / "slides").glob("*/index.html"))
    if not paths:
        sys.exit("no decks found: run `make slides` first")
    failed = 0
    totals = {"decks": 0, "slides": 0, "problems": 0, "requests": 0, "external": 0, "figures": 0}
    with sync_playwright() as pw:
        browser = launch(pw)
        for path in paths:
            r = check_deck(path, browser)
            manifest = json.loads((pathlib.Path(path).parent / "deck.json").read_text())
            bad = r["problems"] + [f"request to {u}" for u in r["external"]] + [f"page error: {e}" for e in r["errors"]]
            if r["figures"] != manifest["figures"]:
                bad.append(f"{r['figures']} figures shown, {manifest['figures']} built")
            bad += [
                f"solution line on a slide: {line}"
                for line in solution_leaks(r, root / "notebooks" / manifest["notebook"])
            ]
            print(f"{pathlib.Path(path).parent.name}: {len(r['slides'])} slides, {r['figures']} figures, "
                  f"{len(r['requests'])} requests ({len(r['external'])} external), smallest text {r['min_font']} px, "
                  f"{len(bad)} problems  [{r['title']}]")
            for line in bad:
                print("   ", line)
            failed += bool(bad)
            totals["decks"] += 1
            totals["slides"] += len(r["slides"])
            totals["problems"] += len(bad)
            totals["requests"] += len(r["requests"])
            totals["external"] += len(r["external"])
            totals["figures"] += r["figures"]
        browser.close()
    print("total:", ", ".join(f"{v} {k}" for k, v in totals.items()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
