"""Widgets in a real browser: JupyterLab runs a notebook up to its `interact` cell, a slider is moved with the
keyboard, and the figure below it must change.

nbval executes the notebooks without a frontend, so it never sees a widget; this test does. It starts JupyterLab
from this environment on a copy of notebooks/ (nothing is written into the repository) with its own Jupyter
config/data/runtime and IPython dirs (the user's settings and startup files cannot interfere), and drives
Debian's Chromium with Playwright (`executable_path`: no browser download, never `playwright install`).
"""
import contextlib
import json
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
RUN_TIMEOUT_S = 900  # the slowest notebook here takes ~1.5 min up to its widget cell; generous for a busy CI box
REPLOT_TIMEOUT_S = 180  # one re-plot after a slider move takes a few seconds
QUIET_S = 2.0  # the figure counts as settled once the kernel has been idle and the image unchanged this long

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None

try:
    import jupyterlab  # noqa: F401
except ImportError:
    jupyterlab = None

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium); "
                                                "the widget test drives it with Playwright"),
    pytest.mark.skipif(sync_playwright is None, reason="Playwright is not installed (it is in the test extra: "
                                                       "pip install -e '.[test]'); no browser download is needed"),
    pytest.mark.skipif(jupyterlab is None, reason="JupyterLab is not installed (pip install -e '.[lab]')"),
]

# (notebook, slider label, key pressed on the slider handle, readout expected afterwards)
CASES = [
    # the learning rate from η = 0.5·2/λmax (converges) to its maximum 1.1·2/λmax (diverges, the top mode flips)
    ("01_linear_regression_dynamics.ipynb", "η·λmax/2", "End", "1.10"),
    # LiSSA's scale from λmax to 0.3·λmax, below the λmax/2 condition: the error curve turns from falling to blowing up
    ("04_inverse_hvp_cg_lissa.ipynb", "scale/λmax", "Home", "0.30"),
    # the influence gallery moves on to the next test image: its helpful/harmful training images are redrawn
    ("05_influence_logistic_regression.ipynb", "test image", "ArrowRight", None),
]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of notebooks/, isolated from the user's Jupyter and IPython settings."""
    tmp = tmp_path_factory.mktemp("lab")
    work = tmp / "notebooks"
    shutil.copytree(ROOT / "notebooks", work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    dirs = {name: tmp / name for name in ("runtime", "config", "data", "ipython")}
    for d in dirs.values():
        d.mkdir()
    settings = dirs["config"] / "lab" / "user-settings" / "@jupyterlab"
    # every cell in the DOM (JupyterLab can otherwise detach cells scrolled out of view), and no news/update toasts
    for plugin, values in {"notebook-extension/tracker": {"windowingMode": "none"},
                           "apputils-extension/notification": {"doNotDisturbMode": True, "fetchNews": "false",
                                                               "checkForUpdates": False}}.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "JUPYTERLAB", "IPYTHON")) and k != "MPLBACKEND"}
    env.update(JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), JUPYTER_CONFIG_DIR=str(dirs["config"]),
               JUPYTER_DATA_DIR=str(dirs["data"]), IPYTHONDIR=str(dirs["ipython"]),
               JUPYTERLAB_SETTINGS_DIR=str(dirs["config"] / "lab" / "user-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(dirs["config"] / "lab" / "workspaces"))
    token = secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={_free_port()}", "--ip=127.0.0.1",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
           "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run JupyterLab's own commands
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = (tmp / "lab.log").open("w")
    server = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = None
    try:
        deadline = time.monotonic() + 120
        while url is None:  # the server writes its real URL (port retries included) to its runtime dir
            assert server.poll() is None, f"JupyterLab exited:\n{(tmp / 'lab.log').read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"JupyterLab did not start:\n{(tmp / 'lab.log').read_text()[-3000:]}"
            for info in dirs["runtime"].glob("jpserver-*.json"):
                try:
                    base = json.loads(info.read_text())["url"].rstrip("/")
                    urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                    url = base
                except (OSError, ValueError, KeyError):
                    pass
            time.sleep(0.5)
        yield {"url": url, "token": token, "log": tmp / "lab.log"}
    finally:
        if url is not None:  # shut every kernel down first, so none outlives the server
            with contextlib.suppress(OSError, ValueError):
                api = f"{url}/api/kernels?token={token}"
                for kernel in json.loads(urllib.request.urlopen(api, timeout=10).read()):
                    urllib.request.urlopen(urllib.request.Request(
                        f"{url}/api/kernels/{kernel['id']}?token={token}", method="DELETE"), timeout=30)
        server.terminate()  # Jupyter Server also shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield b
        finally:
            b.close()


# JavaScript run in the page: the notebook's panel and its state, through JupyterLab's own objects
PANEL = "(path) => [...window.jupyterapp.shell.widgets('main')].find(w => w.context && w.context.path === path)"
STATE = f"""([path, upto]) => {{
    const panel = ({PANEL})(path);
    const status = panel.sessionContext.session && panel.sessionContext.session.kernel
        ? panel.sessionContext.session.kernel.status : 'none';
    const cells = panel.content.widgets.slice(0, upto + 1).filter(c => c.model.type === 'code');
    const errors = cells.flatMap((c, i) => c.model.outputs.toJSON().filter(o => o.output_type === 'error')
        .map(o => `${{o.ename}}: ${{o.evalue}}`));
    return {{status, errors, done: cells.length > 0 && cells[cells.length - 1].model.executionCount !== null}};
}}"""


STATUS = f"(path) => (({PANEL})(path).sessionContext.session?.kernel?.status) || 'none'"


def _images(output):
    """The data of every image the widget's output shows (matplotlib's inline backend: <img src="data:…png">)."""
    imgs = output.locator(".widget-output img")
    return [imgs.nth(i).get_attribute("src") for i in range(imgs.count())]


@pytest.mark.parametrize("notebook, label, key, expected", CASES, ids=[c[0][:2] for c in CASES])
def test_moving_a_slider_redraws_the_figure(lab, browser, notebook, label, key, expected):
    t0 = time.monotonic()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{lab['url']}/lab/tree/{notebook}?token={lab['token']}&reset", timeout=120_000)
        page.wait_for_function(f"""(path) => {{ const p = window.jupyterapp && ({PANEL})(path);
            return p && p.sessionContext.session && p.sessionContext.session.kernel
                && p.sessionContext.session.kernel.status === 'idle'; }}""", arg=notebook, timeout=120_000)
        # Select the (only) interact cell, then Run → "Run All Above Selected Cell" and "Run Selected Cell"
        index = page.evaluate(f"""(path) => {{
            const panel = ({PANEL})(path);
            const found = panel.content.widgets.map((c, i) => [c, i]).filter(([c]) =>
                c.model.type === 'code' && c.model.sharedModel.getSource().includes('interact('));
            if (found.length !== 1) return -found.length;
            const [cell, i] = found[0];
            cell.node.setAttribute('data-widget-test', 'interact');
            window.jupyterapp.shell.activateById(panel.id);
            panel.content.activeCellIndex = i;
            return i; }}""", notebook)
        assert index > 0, f"{notebook}: expected exactly one interact( cell, found {-index}"
        for command in ("notebook:run-all-above", "notebook:run-cell"):
            page.evaluate("(c) => window.jupyterapp.commands.execute(c)", command)
        page.wait_for_function(f"""(args) => {{ const s = ({STATE})(args);
            return (s.status === 'idle' && (s.done || s.errors.length > 0)) || s.status === 'dead'; }}""",
                               arg=[notebook, index], timeout=RUN_TIMEOUT_S * 1000, polling=500)
        state = page.evaluate(STATE, [notebook, index])
        assert not state["errors"] and state["done"], f"{notebook}: cells failed in the browser: {state}"
        t_run = time.monotonic() - t0

        output = page.locator("[data-widget-test=interact]").locator(".widget-interact")
        slider = output.locator(".widget-slider").filter(has=page.locator(".widget-label", has_text=label))
        # ipywidgets 8 draws sliders with noUiSlider, ipywidgets 7 with jQuery UI; both take keyboard input
        handle = slider.locator(".noUi-handle, .ui-slider-handle")
        readout = slider.locator(".widget-readout")
        output.locator(".widget-output img").first.wait_for(timeout=60_000)
        handle.wait_for(timeout=60_000)
        before, value_before = _images(output), readout.inner_text().strip()
        assert before, f"{notebook}: no figure under the widget"

        handle.focus()
        handle.press(key)
        for _ in range(40):
            value_after = readout.inner_text().strip()
            if value_after != value_before:
                break
            time.sleep(0.25)
        assert value_after != value_before, f"{notebook}: {key} did not move the {label!r} slider"
        if expected is not None:
            assert value_after == expected, f"{notebook}: slider at {value_after}, expected {expected}"

        # wait for a new figure, then for the kernel to be idle with the figure unchanged for QUIET_S
        # (if a move queued several re-plots, the last one is what we compare)
        deadline, quiet_since, last = time.monotonic() + REPLOT_TIMEOUT_S, None, None
        while True:
            images = _images(output)
            idle = page.evaluate(STATUS, notebook) == "idle"
            if images and images != before and images == last and idle:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= QUIET_S:
                    break
            else:
                quiet_since = None
            last = images
            assert time.monotonic() < deadline, (
                f"{notebook}: the figure did not change within {REPLOT_TIMEOUT_S} s of moving {label!r} "
                f"from {value_before} to {value_after}")
            time.sleep(0.25)
        after = _images(output)
        assert len(after) == len(before) and all(a != b for a, b in zip(after, before)), (
            f"{notebook}: {len(before)} image(s) before, {len(after)} after, "
            f"{sum(a == b for a, b in zip(after, before))} unchanged")
        assert page.evaluate(STATE, [notebook, index])["errors"] == [], f"{notebook}: the re-plot raised"
        print(f"\n{notebook}: ran up to cell {index} in {t_run:.0f} s; {label} {value_before} -> {value_after}: "
              f"figure redrawn; {time.monotonic() - t0:.0f} s in all")
    finally:
        try:  # free the kernel's CPU and memory for the next notebook
            page.evaluate(f"(path) => ({PANEL})(path).sessionContext.shutdown()", notebook)
        except Exception:
            pass
        page.close()
