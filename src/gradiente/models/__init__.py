"""Models, as in ``keras.models``."""
from .sequential import Sequential  # noqa: F401
from ..saving import load_model, save_model  # noqa: F401,E402
