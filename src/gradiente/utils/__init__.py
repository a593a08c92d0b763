from ._plot import plot_history
