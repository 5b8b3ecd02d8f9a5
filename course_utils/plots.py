"""Plots the notebooks share (matplotlib; sits on top of the numerical core)."""
import contextlib
import inspect
import io
import math
import numbers

import numpy as np

__all__ = ["loo_scatter", "influence_gallery", "spectrum", "widget_grid", "control_settings"]


def loo_scatter(ax, check, title=None, *, predicted=None, ylabel="predicted −I_up,loss / n",
                xlabel="actual change of test loss (retrained without the point)", top_label="largest |influence|"):
    """Predicted against actual leave-one-out change for a ``validation.LOOCheck``: the top-|score| removals and the
    random ones in two colours, each labelled with its Pearson r and Spearman ρ, and the diagonal.

    ``predicted`` overrides ``check.predicted`` (another estimator's prediction for the same removals); a subset whose
    values are all equal is labelled with r = nan.
    """
    pred = check.predicted if predicted is None else np.asarray(predicted)
    if pred.shape != check.actual.shape:
        raise ValueError(f"loo_scatter: predicted has shape {pred.shape}; the check has {check.actual.shape}.")
    from .validation import pearson, spearman

    for mask, name in ((check.is_top, top_label), (~check.is_top, "random")):
        if mask.sum() >= 3:
            label = (f"{mask.sum()} {name}: r = {pearson(pred[mask], check.actual[mask]):.3f}, "
                     f"ρ = {spearman(pred[mask], check.actual[mask]):.3f}")
            ax.scatter(check.actual[mask], pred[mask], s=14, label=label)
    lim = 1.1 * np.max(np.abs(np.concatenate([check.actual, pred])))
    ax.plot([-lim, lim], [-lim, lim], "k:", lw=0.8)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    return ax


def influence_gallery(test_image, train_images, scores, *, image_shape, k=6, test_title="test image",
                      train_titles=None, title="Most helpful (top) and most harmful (bottom) training images"):
    """Two rows: the k most helpful training images (most negative I_up,loss: removing them would raise the test
    loss most) and the k most harmful (most positive), each beside the test image, with their scores. Returns the
    figure (nothing is printed, so an ``interact`` around it shows only the images).

    ``train_titles[i]`` (optional) is a caption for training image i, e.g. its label.
    """
    import matplotlib.pyplot as plt

    scores = np.asarray(scores)
    if scores.shape != (len(train_images),):
        raise ValueError(f"influence_gallery: one score per training image expected, {len(train_images)}; got "
                         f"shape {scores.shape}.")
    order = np.argsort(scores)
    fig, ax = plt.subplots(2, k + 1, figsize=(1.75 * (k + 1), 4.0))
    for row, (picks, kind) in enumerate(((order[:k], "helpful"), (order[::-1][:k], "harmful"))):
        ax[row, 0].imshow(np.asarray(test_image).reshape(image_shape), cmap="gray_r")
        ax[row, 0].set_title(test_title, fontsize=8)
        for col, i in enumerate(picks):
            ax[row, col + 1].imshow(np.asarray(train_images[i]).reshape(image_shape), cmap="gray_r")
            caption = "" if train_titles is None else f" · {train_titles[i]}"
            ax[row, col + 1].set_title(f"{kind} #{col + 1}{caption}\nI = {scores[i]:+.2g}", fontsize=8)
    for a in ax.ravel():
        a.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def spectrum(ax, eigenvalues, label=None, *, reference=None, reference_label=None):
    """|eigenvalues| sorted from the largest, on log-log axes (rank against size): outliers at the left, the bulk to
    the right; ``reference`` draws a horizontal line (say, the L2 term λ, the floor of a regularised Hessian)."""
    e = np.sort(np.abs(np.asarray(eigenvalues)))[::-1]
    ax.plot(np.arange(1, len(e) + 1), e, label=label)
    if reference is not None:
        ax.axhline(reference, color="k", ls=":", lw=0.8, label=reference_label)
    ax.set(xscale="log", yscale="log", xlabel="rank", ylabel="|eigenvalue|")
    return ax


def control_settings(control, default=None):
    """The values a static grid shows for one ``interact`` control: a slider's min, value and max.

    ``control`` is what ``interact`` accepts for a parameter: an ipywidgets slider (``FloatLogSlider`` gives
    ``base**min`` … ``base**max``), a widget with ``options`` (first, value, last), a ``(min, max[, step])`` tuple
    (its value is the function's ``default``, or the midpoint), or a fixed value. Returns ``(label, values,
    value)``: the widget's description (or None), the values sorted and distinct (one value: the control stays
    fixed), and the control's own value.
    """
    label = getattr(control, "description", "") or None
    if hasattr(control, "min") and hasattr(control, "max") and hasattr(control, "value"):
        low, high = control.min, control.max
        if hasattr(control, "base"):                     # FloatLogSlider: min and max are exponents
            low, high = control.base ** low, control.base ** high
        value, values = control.value, [low, control.value, high]
    elif hasattr(control, "options") and hasattr(control, "value"):
        options = [o[1] if isinstance(o, tuple) and len(o) == 2 else o for o in control.options]
        value, values = control.value, [options[0], control.value, options[-1]] if options else [control.value]
    elif isinstance(control, tuple) and len(control) in (2, 3) and all(isinstance(v, numbers.Real) for v in control):
        low, high = control[:2]
        value = default if default is not None and default is not inspect.Parameter.empty else (low + high) / 2
        if all(isinstance(v, numbers.Integral) for v in control):
            value = int(round(value))
        values = [low, value, high]
    else:
        value = getattr(control, "value", control)
        return label, [value], value
    distinct = []
    for v in sorted(values) if all(isinstance(v, numbers.Real) for v in values) else values:
        if not any(v == d for d in distinct):
            distinct.append(v)
    return label, distinct, value


def _format(value):
    if isinstance(value, numbers.Integral):
        return str(value)
    if isinstance(value, numbers.Real):
        return f"{value:.3g}"
    return str(value)


def _draw(fn, kwargs):
    """Call fn(**kwargs) with plt.show held back and printing silenced; its new figures, rasterised and closed."""
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    before, show = set(plt.get_fignums()), plt.show
    plt.show = lambda *args, **kw: None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            fn(**kwargs)
    finally:
        plt.show = show
    images = []
    for number in sorted(set(plt.get_fignums()) - before):
        fig, buffer = plt.figure(number), io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", facecolor="white")
        plt.close(fig)
        buffer.seek(0)
        images.append(mpimg.imread(buffer)[..., :3])
    return images


def widget_grid(fn, /, **controls):
    """One static figure standing in for ``interact(fn, **controls)`` (for a slide deck, or a printed page).

    Calls ``fn`` at the min, default and max of the first control that has a range (see ``control_settings``),
    every other control at its value, captures the matplotlib figure each call draws (``plt.show`` is held back,
    printed output dropped) and composes them into one figure, one panel per setting labelled with the
    control's description and value, laid out to fill a 16:9 slide. Returns the figure (call ``plt.show()``).
    """
    import matplotlib.pyplot as plt

    defaults = {name: p.default for name, p in inspect.signature(fn).parameters.items()}
    settings = {name: control_settings(c, defaults.get(name)) for name, c in controls.items()}
    varied = next((name for name, (_, values, _) in settings.items() if len(values) > 1), None)
    if varied is None:
        raise ValueError("widget_grid: no control has a range to vary (give a slider or a (min, max) tuple).")
    fixed = {name: value for name, (_, _, value) in settings.items()}
    label, values, default = settings[varied]

    panels = []
    for value in values:
        images = _draw(fn, {**fixed, varied: value})
        if not images:
            raise ValueError(f"widget_grid: {getattr(fn, '__name__', 'fn')}({varied}={value!r}) drew no figure.")
        width = max(im.shape[1] for im in images)
        image = np.concatenate([np.pad(im, ((0, 0), (0, width - im.shape[1]), (0, 0)), constant_values=1.0)
                                for im in images])
        note = "min" if value == values[0] else "max" if value == values[-1] else ""
        note = "default" if value == default else note
        panels.append((image, f"{label or varied} = {_format(value)}" + (f" ({note})" if note else "")))

    w = max(p.shape[1] for p, _ in panels) / 100                 # inches per panel at 100 dpi, 1:1 pixels
    h = max(p.shape[0] for p, _ in panels) / 100 + 0.45          # with room for the label
    n = len(panels)
    cols = max(range(1, n + 1), key=lambda c: min(16 / (c * w), 8.4 / (math.ceil(n / c) * h)))
    rows = math.ceil(n / cols)
    fig = plt.figure(figsize=(cols * w, rows * h), dpi=100)
    for i, (image, text) in enumerate(panels):
        r, c = divmod(i, cols)
        shift = (cols - (n - r * cols)) / 2 if r == rows - 1 else 0       # the last row, centred
        ax = fig.add_axes([(c + shift) / cols, 1 - (r + 1) / rows, 1 / cols, (1 - 0.45 / h) / rows])
        ax.imshow(image)
        ax.set_axis_off()
        ax.set_title(text, fontsize=14, fontweight="bold")
    return fig
