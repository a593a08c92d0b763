"""Keras's small data sets: ``mnist`` and ``fashion_mnist``, each with ``load_data()``."""
from . import fashion_mnist, mnist  # noqa: F401
