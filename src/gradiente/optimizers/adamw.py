"""AdamW: Adam with decoupled weight decay, as Keras 3's."""
from .adam import Adam


class AdamW(Adam):
    """Adam whose step first decays every weight: w ← w·(1 - learning_rate·weight_decay)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW(weight_decay=...) must be a float; received "
                             "weight_decay=None. Pass e.g. 0.004, or use Adam.")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, name=name,
                         weight_decay=weight_decay, **kwargs)
