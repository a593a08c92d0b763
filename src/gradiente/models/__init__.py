"""Models, as in ``keras.models``."""
from .sequential import Sequential  # noqa: F401
