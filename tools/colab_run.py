"""Run the course as Google Colab would: on Colab's package versions, installed the way the setup cell installs it.

    python tools/colab_run.py                 # what `make test-colab` runs
    python tools/colab_run.py --lock FILE     # rewrite tools/colab-constraints.txt from a Colab version list

What a run does (it fails, saying why, at the first step that goes wrong):
1. creates `.venv-colab/` afresh on Python 3.13 (what Colab runs) holding exactly the versions pinned in
   tools/colab-constraints.txt: Colab's published versions and, pinned too, the dependencies they pull in;
2. installs the course exactly as the notebooks' setup cell does (`pip install --quiet "course-utils @ …"`: no -U,
   no constraints; the cell names a git tag, here a copy of this checkout) and fails if that changed, removed or
   added any package other than course-utils itself (comparing `pip freeze` before and after);
3. installs the notebook runner (nbclient) with the constraints applied, and fails if that changed anything;
4. executes every notebooks/*.ipynb top to bottom with a kernel of that environment, in an empty working
   directory (on Colab the repository is not there), and prints each notebook's run time.

Only the standard library is needed to start it; step 4 re-runs this file inside `.venv-colab/` (`--execute`).
"""
import argparse
import datetime
import glob
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "tools" / "colab-constraints.txt"
VENV = ROOT / ".venv-colab"
COLAB_PYTHON = (3, 13)          # googlecolab/backend-info, August 2026
TEST_TOOLS = ["nbclient"]       # what step 4 needs besides Colab's own packages
# Notebooks that fail under Colab's versions only, for a reason found and reported to the notebooks' owner:
# {notebook: (text of the failing line in the traceback, why)}. Such a failure is printed and tolerated; any other
# failure of that notebook fails the run, and so does its passing (then delete its entry here).
KNOWN_FAILURES = {}
# This machine's pip configuration names a local index folder that may be absent; pip warns on every call.
NOISE = re.compile(r"^WARNING: Location '.*' is ignored: it is neither a file nor a directory\.$")


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path=CONSTRAINTS):
    """{canonical name: version} from a requirements-style file of `name==version` lines."""
    pins = {}
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            if not sep:
                raise SystemExit(f"{path}: expected name==version, got {line!r}")
            pins[canonical(name)] = version.strip()
    return pins


def run(cmd, **kw):
    """Run a command, printing its output without this machine's pip-configuration noise; fail if it fails."""
    proc = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    out = "\n".join(line for line in proc.stdout.splitlines() if not NOISE.match(line))
    if out.strip():
        print(out, flush=True)
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}")
    return out


def freeze(python):
    """{canonical name: version (or `@ url`)} of everything installed in `python`'s environment."""
    out = subprocess.run([python, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True).stdout
    installed = {}
    for line in out.splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(?:==\s*(\S+)|@\s*(\S+))", line)
        if m:
            installed[canonical(m.group(1))] = m.group(2) or "@ " + m.group(3)
    return installed


def changes(before, after, allowed_new=()):
    """What an install did to an environment, one line per package; empty when it changed nothing."""
    out = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old == new or (old is None and name in allowed_new):
            continue
        out.append(f"{name}: {old or 'absent'} -> {new or 'removed'}")
    return out


def python_version(python):
    try:
        out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:3])"], capture_output=True,
                             text=True, timeout=30)
        return tuple(int(x) for x in out.stdout.split()) if out.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def find_python():
    """A Python 3.13 interpreter: $COLAB_PYTHON, python3.13 on PATH, or the newest 3.13 that pyenv installed."""
    pyenv = pathlib.Path(os.environ.get("PYENV_ROOT", pathlib.Path.home() / ".pyenv"))
    candidates = [os.environ.get("COLAB_PYTHON"), shutil.which("python3.13"),
                  *sorted(glob.glob(str(pyenv / "versions" / "3.13*" / "bin" / "python3.13")), reverse=True),
                  "/usr/local/bin/python3.13", "/usr/bin/python3.13"]
    for c in filter(None, candidates):
        v = python_version(c)
        if v and v[:2] == COLAB_PYTHON:
            return c, v
    raise SystemExit("Python 3.13 (the version Colab runs) was not found: install it (e.g. pyenv install 3.13) or "
                     "set COLAB_PYTHON=/path/to/python3.13")


def copy_of_checkout(dest):
    """The files a clone would have (no environments, build output or caches), so pip builds outside the checkout."""
    skip = shutil.ignore_patterns(".git", ".venv*", "build", "node_modules", "__pycache__", "*.egg-info",
                                  ".ipynb_checkpoints", ".hypothesis", ".pytest_cache")
    shutil.copytree(ROOT, dest, ignore=skip)
    return dest


def create_env(base_python, pins_file):
    if VENV.exists():
        shutil.rmtree(VENV)
    run([base_python, "-m", "venv", VENV])
    py = VENV / "bin" / "python"
    run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", pins_file])
    return py


def test_colab():
    t0 = time.perf_counter()
    base, version = find_python()
    pins = read_pins()
    print(f"== 1. Colab's versions ({len(pins)} pins from {CONSTRAINTS.relative_to(ROOT)}) on Python "
          f"{'.'.join(map(str, version))} ({base}) in {VENV.name}/", flush=True)
    py = create_env(base, CONSTRAINTS)
    before = freeze(py)
    wrong = [f"{n}: pinned {v}, installed {before.get(n, 'nothing')}" for n, v in pins.items() if before.get(n) != v]
    if wrong:
        raise SystemExit("the environment does not match the constraints:\n  " + "\n  ".join(wrong))
    print(f"   {len(before)} packages, {time.perf_counter() - t0:.0f} s", flush=True)

    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        src = copy_of_checkout(pathlib.Path(tmp) / "course")
        requirement = f"course-utils @ {src.as_uri()}"
        print(f"== 2. the setup cell's install: pip install --quiet \"{requirement}\"", flush=True)
        run([py, "-m", "pip", "install", "--quiet", requirement])
    after = freeze(py)
    changed = changes(before, after, allowed_new={"course-utils"})
    if changed:
        raise SystemExit("installing the course changed Colab's packages (its requirements must be met by Colab's "
                         "versions: lower the bounds in pyproject.toml):\n  " + "\n  ".join(changed))
    if "course-utils" not in after:
        raise SystemExit("course-utils is not installed after the setup cell's install")
    print(f"   changed none of the {len(before)} packages; {time.perf_counter() - t1:.0f} s", flush=True)

    print(f"== 3. the notebook runner ({', '.join(TEST_TOOLS)}) with the constraints applied", flush=True)
    run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-c", CONSTRAINTS, *TEST_TOOLS])
    changed = changes(after, freeze(py))
    if changed:
        raise SystemExit("installing the test tools changed the environment:\n  " + "\n  ".join(changed))
    print("   changed nothing", flush=True)

    print("== 4. every notebook, top to bottom, with a kernel of that environment", flush=True)
    code = subprocess.call([py, __file__, "--execute", *sorted(map(str, (ROOT / "notebooks").glob("*.ipynb")))])
    print(f"make test-colab: {time.perf_counter() - t0:.0f} s in all", flush=True)
    return code


def execute(paths, timeout=1800):
    """Run each notebook with a kernel of this interpreter's environment; print its time; 1 if any failed."""
    import nbformat
    from nbclient import NotebookClient

    out_dir = VENV / "executed"
    out_dir.mkdir(exist_ok=True)
    # Hermetic: no user-level kernelspecs or IPython profile; the kernel is this environment's "python3".
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="colab-run-"))
    os.environ.update(JUPYTER_DATA_DIR=str(scratch / "jupyter"), IPYTHONDIR=str(scratch / "ipython"),
                      PYDEVD_DISABLE_FILE_VALIDATION="1")   # (debugpy's frozen-modules note on every kernel start)
    for var in ("JUPYTER_PATH", "PYTHONPATH", "MPLBACKEND"):
        os.environ.pop(var, None)

    def run_nb(nb, workdir, allow_errors=False):
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                                resources={"metadata": {"path": workdir}})
        return client.execute()

    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import sys, IPython, ipywidgets, jax, numpy, matplotlib, course_utils\n"
        "print(sys.prefix, sys.version.split()[0], jax.__version__, jax.default_backend(), numpy.__version__,"
        " matplotlib.__version__, ipywidgets.__version__, IPython.__version__, course_utils.__file__)")])
    work = scratch / "work"
    work.mkdir()
    outputs = run_nb(probe, str(work)).cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout").split()
    prefix, rest = pathlib.Path(text[0]), text[1:]
    print(
        "   kernel: python {} · jax {} ({}) · numpy {} · matplotlib {} · ipywidgets {} · IPython {}".format(*rest[:7])
    )
    print(f"   course_utils from {rest[7]}", flush=True)
    if prefix.resolve() != pathlib.Path(sys.prefix).resolve():
        raise SystemExit(f"the kernel runs in {prefix}, not in {sys.prefix}")
    if not pathlib.Path(rest[7]).resolve().is_relative_to(pathlib.Path(sys.prefix).resolve()):
        raise SystemExit("the kernel imports course_utils from the checkout, not from the installed package")

    strip = lambda text: re.sub(r"\x1b\[[0-9;]*m", "", text)     # terminal colours in tracebacks
    results = []
    for path in map(pathlib.Path, paths):
        nb = nbformat.read(path, as_version=4)
        workdir = scratch / path.stem      # empty: on Colab the repository is not next to the notebook
        workdir.mkdir()
        known = KNOWN_FAILURES.get(path.name)
        start = time.perf_counter()
        try:                               # a known failure's notebook runs on past its error, to test the rest
            run_nb(nb, str(workdir), allow_errors=known is not None)
            errors = [strip("\n".join(o.get("traceback", []))) for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []) if o.get("output_type") == "error"]
        except Exception as e:             # a failing cell, a dead kernel, a timeout: report it, run the rest
            errors = [strip(f"{type(e).__name__}: {e}")]
        seconds = time.perf_counter() - start
        nbformat.write(nb, out_dir / path.name)
        failing_lines = [ln for ln in (errors[0].splitlines() if errors else []) if re.match(r"^-*> *\d+ ", ln)]
        if not errors:
            status = "ok" if known is None else "PASSED, but listed in KNOWN_FAILURES (tools/colab_run.py): delete it"
        elif known and len(errors) == 1 and any(known[0] in line for line in failing_lines):
            status = f"known failure, the rest of it ran: {known[1]}"
        else:
            status = "FAILED"
        results.append((path.name, seconds, status))
        print(f"   {path.name:42s} {seconds:6.1f} s  {status}", flush=True)
        if status == "FAILED":
            for error in errors:
                print("      " + "\n      ".join(error.splitlines()[-40:]), flush=True)
    passed = [name for name, _, status in results if status == "ok"]
    known = [name for name, _, status in results if status.startswith("known failure")]
    bad = [name for name, _, status in results if name not in passed + known]
    total = sum(s for _, s, _ in results)
    print(f"   notebooks: {total:.0f} s; executed copies in {out_dir.relative_to(ROOT)}/")
    if known:
        print(f"   {len(known)} known failure{'s' * (len(known) > 1)} under Colab's versions (see above): "
              + ", ".join(known))
    print(f"colab: {len(passed)} passed, {len(bad)} failed", flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    return 1 if bad else 0


def lock(colab_list):
    """Rewrite the constraints file: Colab's versions from `colab_list`, plus the exact versions pip resolves for
    their dependencies (and the test tools') on Python 3.13 today."""
    base, version = find_python()
    colab = read_pins(colab_list)
    with tempfile.TemporaryDirectory() as tmp:
        reqs = pathlib.Path(tmp) / "requirements.txt"
        reqs.write_text("".join(f"{n}=={v}\n" for n, v in colab.items()) + "".join(f"{t}\n" for t in TEST_TOOLS))
        py = create_env(base, reqs)
    resolved = {n: v for n, v in freeze(py).items() if n != "pip"}
    shutil.rmtree(VENV)
    source = pathlib.Path(colab_list).read_text().splitlines()[0].lstrip("# ").split(". ")[0].rstrip(".") + "."
    today = datetime.date.today().isoformat()
    head = [
        "# Google Colab's runtime, for `make test-colab` (tools/colab_run.py). Regenerate with",
        "#   python tools/colab_run.py --lock <a list of Colab's versions, name==version a line>",
        f"# Source of the first block: {source}",
        "# The second block pins what those packages pull in (and the notebook runner, nbclient), as pip resolved it",
        f"# from PyPI on {today} with Python {'.'.join(map(str, version))}, so that every run installs the same set;",
        "# Colab's own versions of these may differ.",
        "",
        "# Colab's versions",
        *(f"{n}=={v}" for n, v in colab.items()),
        "",
        "# their dependencies, resolved",
        *(f"{n}=={v}" for n, v in sorted(resolved.items()) if n not in colab),
    ]
    CONSTRAINTS.write_text("\n".join(head) + "\n")
    print(f"wrote {CONSTRAINTS.relative_to(ROOT)}: {len(colab)} Colab pins, {len(resolved) - len(colab)} resolved")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", metavar="COLAB_VERSIONS", help="rewrite the constraints file from this list")
    parser.add_argument("--execute", nargs="+", metavar="NOTEBOOK", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lock:
        sys.exit(lock(args.lock))
    sys.exit(execute(args.execute) if args.execute else test_colab())
