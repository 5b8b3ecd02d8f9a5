# The two commands a newcomer needs (see README.md):
#   make lab    set up .venv (first time only) and open the course in JupyterLab
#   make test   set up .venv (first time only) and run every unit test and every notebook
# and for CI: make test-colab (Colab's package versions in .venv-colab/; see tools/colab_run.py)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: lab test test-browser unit lock test-colab bench student slides slides-check clean

# Re-install only when the dependency list changes. uv (installed into the venv from PyPI)
# resolves and installs in seconds; pip is the fallback if uv cannot be had.
# The versions come from tools/ci-lock.txt (every package pinned, so CI and a newcomer install the same set); the
# ranges users and Colab install stay in pyproject.toml. `make lock` re-resolves after a change there.
$(STAMP): pyproject.toml tools/ci-lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(PY) -m uv pip install --quiet --python $(PY) -e ".[test,lab]" -c tools/ci-lock.txt \
	  || $(PY) -m pip install --quiet --disable-pip-version-check -e ".[test,lab]" -c tools/ci-lock.txt
	touch $(STAMP)

lock: $(STAMP)
	$(PY) -m uv pip compile pyproject.toml --extra test --extra lab --universal --python-version 3.11 -q \
	  -o tools/ci-lock.txt

# (--allow-root only when run as root, e.g. in a container; Jupyter refuses root otherwise)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# reveal.js and MathJax 3 for the offline decks, pinned by slides/package-lock.json
NODE_STAMP := slides/node_modules/.installed
# (without npm, e.g. a Python-only machine, the tests that build a deck are skipped and say so)
$(NODE_STAMP): slides/package-lock.json
	if command -v npm >/dev/null; then cd slides && npm ci --no-audit --no-fund --loglevel=error \
	  && touch .installed && mv .installed node_modules/; else echo "npm not found: deck tests will be skipped"; fi

test: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest

# JupyterLab in Debian's chromium (Playwright): notebooks 01, 04 and 05 run up to their widget, a slider is moved and
# the figure must change. Kept out of `make test` because it runs those notebooks a second time; CI runs both.
test-browser: $(STAMP)
	$(PY) -m pytest tests/test_widgets_browser.py -m browser -n 0

# the fast inner loop while developing: unit tests not marked slow, no notebooks, no browser (under a minute)
unit: $(STAMP)
	$(PY) -m pytest tests -m "not slow" -q

# Google Colab's versions (tools/colab-constraints.txt) on Python 3.13 in a fresh .venv-colab/; install the course
# as the notebooks' setup cell does, fail if that changed any of them, then run every notebook top to bottom.
# Needs only the standard library to start; finds python3.13 on PATH or in pyenv (or set COLAB_PYTHON=...).
test-colab:
	$(PYTHON) tools/colab_run.py

# student versions of every notebook (solutions stubbed out, outputs cleared) in student/ (committed; a test fails
# when they are stale, so run this after editing a notebook)
student: $(STAMP)
	$(PY) tools/make_student.py notebooks student

# one offline reveal.js deck per notebook, each a folder build/slides/NN_…/ (executes every notebook once)
slides: $(STAMP) $(NODE_STAMP)
	$(PY) slides/build.py

# every slide of every built deck measured in headless Chromium (overflow, requests, figures, font sizes)
slides-check: $(STAMP)
	$(PY) slides/check.py

bench: $(STAMP)
	$(PY) benchmarks/bench_foundation.py
	$(PY) benchmarks/bench_influence_cnn.py
	$(PY) benchmarks/bench_estimators.py
	$(PY) benchmarks/bench_first_second_call.py
	$(PY) benchmarks/bench_factor_once.py

clean:
	rm -rf $(VENV) .venv-colab build
