"""Nadam (Adam with Nesterov momentum), as Keras 3's."""
from .optimizer import Optimizer, check_epsilon, check_unit_interval


class Nadam(Optimizer):
    kind = "nadam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = check_unit_interval("Nadam", "beta_1", beta_1)
        self.beta_2 = check_unit_interval("Nadam", "beta_2", beta_2)
        self.epsilon = check_epsilon("Nadam", epsilon)

    def _spec(self):
        return self._make_spec("nadam", beta_1=self.beta_1, beta_2=self.beta_2,
                               epsilon=self.epsilon)

    def _slot_names(self):
        return ("momentum", "velocity")

    def _n_state_params(self, n_params):
        return 3 + 2 * n_params  # and the running product u_1···u_t

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
