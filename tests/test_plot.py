"""gradiente.utils.plot_history: the Keras tutorial's loss/accuracy figure."""
import builtins
import sys

import pytest

pytest.importorskip("matplotlib")

from gradiente.utils import plot_history  # noqa: E402

LOGS = {"loss": [0.9, 0.5, 0.3], "val_loss": [1.0, 0.6, 0.45],
        "accuracy": [0.7, 0.85, 0.9], "val_accuracy": [0.68, 0.8, 0.86]}


class FakeHistory:
    history = LOGS


@pytest.fixture(autouse=True)
def headless(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("DISPLAY", raising=False)


def test_writes_png(tmp_path):
    figure = plot_history(FakeHistory(), path=tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.figure import Figure

    assert isinstance(figure, Figure)


def test_titles_labels_legend_and_epochs():
    figure = plot_history(LOGS)
    (axes,) = figure.axes
    assert axes.get_title() == "Training and validation loss"
    assert axes.get_xlabel() == "Epochs"
    assert axes.get_ylabel() == "Loss"
    assert [t.get_text() for t in axes.get_legend().get_texts()] == \
        ["Training loss", "Validation loss"]
    train, val = axes.get_lines()
    assert list(train.get_xdata()) == [1, 2, 3]
    assert list(train.get_ydata()) == LOGS["loss"]
    assert list(val.get_ydata()) == LOGS["val_loss"]


def test_several_metrics_and_no_validation():
    figure = plot_history({"loss": [1, 0.5], "accuracy": [0.5, 0.7]},
                          metrics=["loss", "accuracy"])
    assert [a.get_title() for a in figure.axes] == ["Training loss", "Training accuracy"]
    assert figure.axes[1].get_ylabel() == "Accuracy"
    assert len(figure.axes[1].get_lines()) == 1


def test_missing_metric_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no metric 'mae'; it has 'loss', 'accuracy'"):
        plot_history(LOGS, metrics="mae")


def test_bad_history_type():
    with pytest.raises(TypeError, match="expects a History"):
        plot_history([0.1, 0.2])


def test_without_matplotlib(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    with pytest.raises(ImportError, match=r"pip install gradiente\[plot\]"):
        plot_history(LOGS)
