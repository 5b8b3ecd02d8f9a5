"""Plots the notebooks share (matplotlib; sits on top of the numerical core)."""
import numpy as np

__all__ = ["loo_scatter"]


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
