"""SGD with optional (Nesterov) momentum, as Keras 3's."""
from .optimizer import Optimizer


class SGD(Optimizer):
    kind = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) \
                or not 0 <= momentum <= 1:
            raise ValueError(f"SGD(momentum=...) expects a float in [0, 1]; received "
                             f"momentum={momentum!r}.")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _spec(self):
        return self._make_spec("sgd", momentum=self.momentum, nesterov=self.nesterov)

    def _slot_names(self):
        return ("velocity",)

    def _n_state_params(self, n_params):
        return 2 + (n_params if self.momentum else 0)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


