"""validation.py: the removal protocol, the correlations, and a leave-one-out check on a convex model."""
import jax
import numpy as np
import pytest
from scipy import stats

from course_utils import data as D, influence as I, models as M, training as T, validation as V


def _logistic_1_vs_7(n, tol):
    """Logistic regression on the first n digits 1 and 7, trained by Newton to ‖∇R‖ ≤ tol (λ = 0.01)."""
    loss = M.example_loss(M.linear_apply, M.logistic_loss)
    ds = D.binary_subset(D.load_digits(), (1, 7))
    X, Y = ds.x_train[:n], ds.y_train[:n]
    return loss, ds, (X, Y), T.train_newton(loss, M.linear_init(64), (X, Y), l2=0.01, tol=tol)


@pytest.mark.parametrize("seed", range(4))
def test_pearson_and_spearman_match_scipy(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(30), rng.standard_normal(30)
    b[:5] = a[:5]
    a[10:14] = 0.5                                   # ties get their mean rank, as in scipy
    assert np.isclose(V.pearson(a, b), stats.pearsonr(a, b)[0], rtol=1e-12)
    assert np.isclose(V.spearman(a, b), stats.spearmanr(a, b)[0], rtol=1e-12)


def test_correlations_reject_mismatched_input():
    with pytest.raises(ValueError, match="same length"):
        V.pearson(np.ones(4), np.ones(5))
    with pytest.raises(ValueError, match="same length"):
        V.spearman(np.ones((2, 2)), np.ones((2, 2)))


def test_select_removals_takes_the_largest_magnitudes_then_random_others():
    scores = np.array([0.1, -5.0, 0.2, 3.0, -0.3, 0.0, 4.0, 0.05])
    idx, is_top = V.select_removals(scores, n_top=3, n_random=2, key=jax.random.key(0))
    assert list(idx[:3]) == [1, 6, 3] and list(is_top) == [True] * 3 + [False] * 2
    assert len(set(idx)) == 5 and not set(idx[3:]) & {1, 6, 3}
    again, _ = V.select_removals(scores, n_top=3, n_random=2, key=jax.random.key(0))
    assert np.array_equal(idx, again)                 # the key decides the random draw
    with pytest.raises(ValueError, match="n_top"):
        V.select_removals(scores, n_top=6, n_random=3, key=jax.random.key(0))
    with pytest.raises(ValueError, match="finite"):
        V.select_removals(np.array([1.0, np.nan, 2.0]), n_top=1, n_random=1, key=jax.random.key(0))


@pytest.mark.slow
def test_loo_check_on_logistic_regression_agrees_and_reports_each_subset():
    loss, ds, (X, Y), fit = _logistic_1_vs_7(n=100, tol=1e-12)
    test = (ds.x_test[0], ds.y_test[0])
    scores = I.influence_up_loss(loss, fit.params, (X, Y), test, l2=0.01, solver=I.Exact())
    check = V.loo_check(loss, fit.params, (X, Y), test, scores, l2=0.01, n_top=10, n_random=8,
                        key=jax.random.key(1), tol=1e-10)
    assert check.indices.shape == (18,) and check.is_top.sum() == 10 and np.all(check.grad_norm <= 1e-9)
    # the prediction is −score/n and the actual change comes from the retrained parameters
    assert np.allclose(check.predicted, -np.asarray(scores)[check.indices] / 100)
    refit = T.train_newton(loss, fit.params, (X, Y), l2=0.01, tol=1e-12,
                           weights=np.where(np.arange(100) == check.indices[0], 0.0, 1.0))
    assert np.isclose(check.actual[0], loss(refit.params, *test) - loss(fit.params, *test), rtol=1e-8)
    agree = check.agreement()
    assert set(agree) == {"top", "random", "all"} and all(r > 0.99 for r, _ in agree.values())
    assert "top" in check.report() and "Spearman" in check.report()
    with pytest.raises(ValueError, match="one entry per training point"):
        V.loo_check(loss, fit.params, (X, Y), test, scores[:50], l2=0.01, key=jax.random.key(1))


def test_loo_scatter_labels_each_subset_with_its_correlations():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_utils import plots

    rng = np.random.default_rng(0)
    actual = rng.standard_normal(12)
    check = V.LOOCheck(np.arange(12), np.arange(12) < 8, actual + 0.01 * rng.standard_normal(12), actual, None,
                       np.zeros(12))
    fig, ax = plt.subplots()
    plots.loo_scatter(ax, check, "title")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 2 and labels[0].startswith("8 largest") and labels[1].startswith("4 random")
    assert f"r = {V.pearson(check.predicted[:8], actual[:8]):.3f}" in labels[0]
    with pytest.raises(ValueError, match="shape"):
        plots.loo_scatter(ax, check, predicted=np.zeros(3))
    plt.close(fig)


@pytest.mark.slow
def test_loo_check_accepts_given_removals_and_rejects_bad_ones():
    loss, ds, (X, Y), fit = _logistic_1_vs_7(n=60, tol=1e-10)
    test = (ds.x_test[0], ds.y_test[0])
    scores = np.asarray(I.influence_up_loss(loss, fit.params, (X, Y), test, l2=0.01, solver=I.Exact()))
    chosen = (np.array([3, 7, 11, 20]), np.array([True, True, False, False]))
    check = V.loo_check(loss, fit.params, (X, Y), test, scores, l2=0.01, removals=chosen)
    assert np.array_equal(check.indices, chosen[0]) and np.allclose(check.predicted, -scores[chosen[0]] / 60)
    for bad in ((np.array([3, 3]), np.array([True, False])), (np.array([1, 60]), np.array([True, False]))):
        with pytest.raises(ValueError, match="distinct indices"):
            V.loo_check(loss, fit.params, (X, Y), test, scores, l2=0.01, removals=bad)
    with pytest.raises(TypeError, match="key="):
        V.loo_check(loss, fit.params, (X, Y), test, scores, l2=0.01)


@pytest.mark.slow
def test_newton_retrains_reach_a_tight_tolerance():
    """Near the optimum the Armijo decrease is below R's rounding error; Newton must not stall there."""
    loss, ds, (X, Y), fit = _logistic_1_vs_7(n=100, tol=1e-12)
    _, norms = I.leave_one_out(loss, fit.params, (X, Y), np.arange(40), l2=0.01, tol=1e-12)
    assert fit.grad_norm <= 1e-12 and float(np.max(norms)) <= 1e-12


def test_union_removals_merges_each_estimators_top_points_then_draws_others():
    a = np.array([5.0, 0, 0, 4, 0, 0, 0, 0, 0, 0.1])
    b = np.array([0.0, 3, 0, 0, 0, 0, 0, 0, 2, 0])
    idx, is_top = V.union_removals([a, b], n_top=2, n_random=3, key=jax.random.key(0))
    assert set(idx[is_top]) == {0, 3, 1, 8} and len(idx) == 7 and len(set(idx)) == 7
    with pytest.raises(ValueError, match="left outside"):
        V.union_removals([a, b], n_top=2, n_random=7, key=jax.random.key(0))
    assert np.isnan(V.pearson(np.ones(4), np.arange(4.0)))     # undefined, not a warning and a garbage number


def test_timing_helpers_wait_for_the_result_and_skip_the_compile():
    import time

    from course_utils import timing

    calls = []
    slow = lambda x: (calls.append(1), time.sleep(0.01), x)[2]
    assert 0.009 < timing.seconds(slow, 1.0, repeats=2) < 1.0 and len(calls) == 3     # one warm-up, two timed
    with timing.timer() as t:
        time.sleep(0.01)
    assert 0.009 < t.seconds < 1.0


def test_gallery_and_spectrum_plots():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_utils import plots

    rng = np.random.default_rng(3)
    images, scores = rng.random((20, 16)), rng.standard_normal(20)
    fig = plots.influence_gallery(
        images[0], images, scores, image_shape=(4, 4), k=3, train_titles=list("abcdefghijklmnopqrst")
    )
    titles = [a.get_title() for a in fig.axes]
    helpful = titles[1].split("·")[1].split("\n")[0].strip()
    assert helpful == "abcdefghijklmnopqrst"[int(np.argmin(scores))]          # the most negative score is helpful #1
    assert f"{scores.max():+.2g}" in titles[5]                              # the most positive is harmful #1
    with pytest.raises(ValueError, match="one score per training image"):
        plots.influence_gallery(images[0], images, scores[:5], image_shape=(4, 4))
    fig, ax = plt.subplots()
    plots.spectrum(ax, np.array([-3.0, 1.0, 0.01]), "H", reference=0.01)
    assert np.allclose(ax.lines[0].get_ydata(), [3.0, 1.0, 0.01])
    plt.close("all")
