"""course_utils: the small library behind the course's notebooks.

Numerical core (imports only JAX, numpy and optax): ``curvature``, ``influence``, ``training``, ``models``,
``dynamics`` (momentum's 2×2 iteration matrices on a quadratic), ``validation`` (leave-one-out checks with a
stated protocol), ``estimators`` (K-FAC, EK-FAC, Arnoldi, TracIn, TRAK, the gradient dot product and the linear
datamodeling score, in Koh & Liang's sign convention). On top of it: ``data`` (datasets that ship inside packages;
opt-in full-MNIST download), ``plots`` (figures the notebooks share), ``timing`` (wall-clock measurements, printed,
never asserted) and ``checks`` (the auto-checks that exercises end with).

Curvature and influence computations need float64: start every notebook with
``jax.config.update("jax_enable_x64", True)``.
"""
from . import checks, curvature, data, dynamics, estimators, influence, models, plots, timing, training, validation
from ._validate import NotPositiveDefiniteError

__version__ = "0.1.0"
__all__ = ["checks", "curvature", "data", "dynamics", "estimators", "influence", "models", "plots", "timing",
           "training", "validation", "NotPositiveDefiniteError"]
