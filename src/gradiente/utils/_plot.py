"""plot_history: the training curves of the classic Keras tutorials, in one call."""
import os
import sys

_TUTORIAL_STYLE = ("bo", "b")  # training as dots, validation as a line
_FILE_BACKENDS = ("agg", "cairo", "pdf", "pgf", "ps", "svg", "template")


def plot_history(history, metrics=("loss",), path=None):
    """Plot each metric and its ``val_`` twin per epoch, as Keras's tutorials do.

    Args:
        history: the ``History`` returned by ``fit`` (anything with a ``.history``
            dict) or such a dict itself, ``{'loss': [...], 'val_loss': [...], ...}``.
        metrics: a metric name or a sequence of them; one panel each, side by side.
        path: when given, the figure is saved there (the format follows the suffix).

    Returns:
        The matplotlib ``Figure``. Without a display the figure is drawn with Agg and
        never opens a window; with one it is a pyplot figure, shown by ``plt.show()``.
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise TypeError(
            "plot_history(history=...) expects a History (with .history) or a dict of "
            f"per-epoch lists; received {type(history).__name__}."
        )
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    if not metrics:
        raise ValueError("plot_history(metrics=...) expects at least one metric name.")
    for name in metrics:
        if name not in logs:
            available = ", ".join(repr(k) for k in logs if not k.startswith("val_"))
            raise ValueError(
                f"plot_history: the history has no metric {name!r}; it has "
                f"{available or 'no metrics'}. Pass metrics=(...) with those names."
            )
    figure = _new_figure(width=6.0 * len(metrics), height=4.5)
    from matplotlib.ticker import MaxNLocator

    for i, name in enumerate(metrics):
        axes = figure.add_subplot(1, len(metrics), i + 1)
        train = list(logs[name])
        epochs = range(1, len(train) + 1)
        label = name.replace("_", " ")
        axes.plot(epochs, train, _TUTORIAL_STYLE[0], label=f"Training {label}")
        val = logs.get(f"val_{name}")
        if val is not None:
            val = list(val)
            axes.plot(range(1, len(val) + 1), val, _TUTORIAL_STYLE[1],
                      label=f"Validation {label}")
            axes.set_title(f"Training and validation {label}")
        else:
            axes.set_title(f"Training {label}")
        axes.set_xlabel("Epochs")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(label[:1].upper() + label[1:])
        axes.legend()
    figure.tight_layout()
    if path is not None:
        figure.savefig(os.fspath(path))
    return figure


def _new_figure(width, height):
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "plot_history needs matplotlib: pip install gradiente[plot]"
        ) from exc
    if _headless():
        from matplotlib.figure import Figure

        # A bare Figure draws with Agg and belongs to no GUI: it can never pop up.
        return Figure(figsize=(width, height))
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(width, height))


def _headless():
    """True when no window could (or should) be opened."""
    backend = os.environ.get("MPLBACKEND", "").lower()
    if backend in _FILE_BACKENDS:
        return True
    if "matplotlib.pyplot" in sys.modules:
        # pyplot already chose a backend; respect it (a notebook's inline one included).
        return False
    if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return True
    return False
