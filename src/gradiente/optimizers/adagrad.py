"""Adagrad, as Keras 3's."""
import numpy as np

from .optimizer import Optimizer, check_epsilon


class Adagrad(Optimizer):
    kind = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        v = initial_accumulator_value
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                or not np.isfinite(v) or v < 0:
            raise ValueError(f"Adagrad(initial_accumulator_value=...) expects a finite float "
                             f">= 0; received initial_accumulator_value={v!r}.")
        self.initial_accumulator_value = float(v)
        self.epsilon = check_epsilon("Adagrad", epsilon)

    def _spec(self):
        return self._make_spec("adagrad", epsilon=self.epsilon,
                               initial_accumulator_value=self.initial_accumulator_value)

    def _slot_names(self):
        return ("accumulator",)

    def _slot_initial(self, name):
        return self.initial_accumulator_value

    def _n_state_params(self, n_params):
        return 2 + n_params

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
