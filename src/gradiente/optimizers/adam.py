"""Adam (and AMSGrad), as Keras 3's."""
from .optimizer import Optimizer, check_epsilon, check_unit_interval


class Adam(Optimizer):
    kind = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = check_unit_interval(type(self).__name__, "beta_1", beta_1)
        self.beta_2 = check_unit_interval(type(self).__name__, "beta_2", beta_2)
        self.epsilon = check_epsilon(type(self).__name__, epsilon)
        self.amsgrad = bool(amsgrad)

    def _spec(self):
        return self._make_spec("adam", beta_1=self.beta_1, beta_2=self.beta_2,
                               epsilon=self.epsilon, amsgrad=self.amsgrad)

    def _slot_names(self):
        return ("m", "v", "vhat")

    def _n_state_params(self, n_params):
        return 2 + n_params * (3 if self.amsgrad else 2)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}
