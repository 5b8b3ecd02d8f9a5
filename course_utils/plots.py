"""Plots the notebooks share (matplotlib; sits on top of the numerical core)."""
import numpy as np

__all__ = ["loo_scatter", "influence_gallery", "spectrum"]


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
