"""What the notebook tools share: bring every notebook up to date with a transform, or (``check``) only report the
stale ones. Used by stamp_notebooks.py and tag_slides.py."""
import pathlib

import nbformat


def rewrite(paths, transform, *, check, tool):
    """Apply ``transform(i, nb) -> nb`` to each notebook in ``paths``; write the changed ones, or with ``check`` name
    them (with the command ``python tools/<tool>.py`` that fixes them). Returns the exit code (1: stale in check)."""
    stale = []
    for i, path in enumerate(paths):
        nb = nbformat.read(path, as_version=4)
        new = transform(i, nb)
        if nbformat.writes(new) != nbformat.writes(nb):
            stale.append(pathlib.Path(path).name)
            if not check:
                nbformat.write(new, path)
    if check and stale:
        print(f"out of date (run python tools/{tool}.py):", ", ".join(stale))
        return 1
    return 0
