"""course_utils.plots.widget_grid: an interact() widget as one static figure (what the lecture decks show)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from ipywidgets import Dropdown, FloatLogSlider, FloatSlider, IntSlider  # noqa: E402

from course_utils.plots import control_settings, widget_grid  # noqa: E402


def test_control_settings_are_min_default_max():
    assert control_settings(FloatSlider(value=0.5, min=0.05, max=1.1, description="η")) == ("η", [0.05, 0.5, 1.1], 0.5)
    assert control_settings(IntSlider(value=0, min=0, max=4)) == (None, [0, 4], 0)         # default = min: two
    label, values, value = control_settings(FloatLogSlider(value=1e-4, base=10, min=-6, max=-1, description="δ"))
    assert label == "δ" and np.allclose(values, [1e-6, 1e-4, 1e-1]) and value == 1e-4       # exponents → values
    assert control_settings((0, 10), default=4) == (None, [0, 4, 10], 4)                    # interact's tuples
    assert control_settings((0.0, 1.0)) == (None, [0.0, 0.5, 1.0], 0.5)
    assert control_settings(Dropdown(options=[("a", 1), ("b", 2), ("c", 3)], value=2))[1] == [1, 2, 3]
    assert control_settings(7) == (None, [7], 7)                                             # fixed


def test_widget_grid_calls_fn_at_each_setting_and_composes_one_labelled_figure():
    calls = []

    def show(power=1.0, k=3, style="-"):
        calls.append((power, k, style))
        print("printed output is dropped")
        fig, ax = plt.subplots(1, 2, figsize=(6, 2))
        ax[0].plot(np.arange(10) ** power, style)
        plt.show()                                        # held back while the grid is drawn

    before = set(plt.get_fignums())
    fig = widget_grid(show, power=FloatSlider(value=1.0, min=0.5, max=2.0, description="power"),
                      k=IntSlider(value=3, min=1, max=5), style="--")
    assert calls == [(0.5, 3, "--"), (1.0, 3, "--"), (2.0, 3, "--")]   # first slider varied; the others fixed
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["power = 0.5 (min)", "power = 1 (default)", "power = 2 (max)"]
    assert set(plt.get_fignums()) - before == {fig.number}              # the three captured figures are closed
    for ax in fig.axes:                                                 # each panel is a picture of the figure
        image = ax.get_images()[0].get_array()
        assert image.shape[0] > 100 and image.shape[1] > 2 * image.shape[0] and image.std() > 0
    width, height = fig.get_size_inches()
    assert 1.5 < width / height < 3                                     # wide panels: two columns, a 16:9-ish slide
    plt.close(fig)


def test_widget_grid_explains_what_is_missing():
    with pytest.raises(ValueError, match="no control has a range"):
        widget_grid(lambda a=1: None, a=5)
    with pytest.raises(ValueError, match="drew no figure"):
        widget_grid(lambda a=1: None, a=(0, 2))
