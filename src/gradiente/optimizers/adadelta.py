"""Adadelta, as Keras 3's."""
from .optimizer import Optimizer, check_epsilon, check_unit_interval


class Adadelta(Optimizer):
    kind = "adadelta"

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = check_unit_interval("Adadelta", "rho", rho)
        self.epsilon = check_epsilon("Adadelta", epsilon)

    def _spec(self):
        return self._make_spec("adadelta", rho=self.rho, epsilon=self.epsilon)

    def _slot_names(self):
        return ("accumulated_grad", "accumulated_delta_var")

    def _n_state_params(self, n_params):
        return 2 + 2 * n_params

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
