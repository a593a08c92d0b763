"""RMSprop (with optional momentum, centered), as Keras 3's."""
from .optimizer import Optimizer, check_epsilon, check_unit_interval


class RMSprop(Optimizer):
    kind = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = check_unit_interval("RMSprop", "rho", rho)
        self.momentum = check_unit_interval("RMSprop", "momentum", momentum)
        self.epsilon = check_epsilon("RMSprop", epsilon)
        self.centered = bool(centered)

    def _spec(self):
        return self._make_spec("rmsprop", rho=self.rho, momentum=self.momentum,
                               epsilon=self.epsilon, centered=self.centered)

    def _slot_names(self):
        names = ["velocity"]
        if self.momentum > 0:
            names.append("momentum")
        if self.centered:
            names.append("average_gradient")
        return tuple(names)

    def _n_state_params(self, n_params):
        return 2 + n_params * len(self._slot_names())

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
