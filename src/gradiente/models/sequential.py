"""Sequential: a stack of layers, with Keras 3's API (structure, weights, compile, config;
the training loops are in ``_trainer.py``)."""
import numpy as np

from .. import _engine, _validate, losses as losses_mod, metrics as metrics_mod, optimizers
from .._config import floatx
from ..layers import deserialize as deserialize_layer, serialize as serialize_layer
from ..layers.activation import Activation
from ..layers.dense import Dense
from ..layers.dropout import Dropout
from ..layers.flatten import Flatten
from ..layers.input_layer import InputLayer, KerasTensor
from ..layers.layer import Layer, unique_name
from ._summary import summary_text
from ._trainer import Trainer


class Sequential(Trainer):
    """A linear stack of layers: ``Sequential([Input((784,)), Dense(10)])``."""

    def __init__(self, layers=None, trainable=True, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Sequential(name=...) expects a str; received {name!r}.")
        self.name = name or unique_name("sequential")
        self.trainable = bool(trainable)
        self._layers = []
        self._input_layer = None
        self.built = False
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self._metric_ids = []
        self._weighted_metric_ids = []
        self._plan = None
        self._engine = None
        self.stop_training = False
        self.history = None
        if layers is not None:
            if not isinstance(layers, (list, tuple)):
                raise TypeError(f"Sequential(layers=...) expects a list of layers; received "
                                f"{type(layers).__name__}.")
            for layer in layers:
                self.add(layer)

    # ---------------------------------------------------------------- structure
    @property
    def layers(self):
        return list(self._layers)

    @property
    def input_shape(self):
        return None if self._input_layer is None else self._input_layer.shape

    @property
    def output_shape(self):
        return self._layers[-1].output_shape if self.built and self._layers else None

    @property
    def dtype(self):
        if self._input_layer is not None:
            return self._input_layer.dtype
        return self._layers[0].dtype if self._layers else floatx()

    def add(self, layer):
        if isinstance(layer, KerasTensor):
            layer = layer._layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("An Input can only be the first element of a Sequential "
                                 "model.")
            self._input_layer = layer
            self._invalidate()
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add(layer=...) expects a gradiente layer; received "
                            f"{type(layer).__name__}: {layer!r}.")
        if any(existing is layer for existing in self._layers):
            raise ValueError(f"Layer {layer.name!r} is already in this model.")
        if not self._layers and self._input_layer is None and layer._input_shape_arg:
            self._input_layer = InputLayer(shape=layer._input_shape_arg, dtype=layer.dtype)
        self._layers.append(layer)
        self._invalidate()
        if self._input_layer is not None:
            self.build(self._input_layer.shape)

    def pop(self, rebuild=True):
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self._invalidate()
        self.built = False
        if rebuild and self._input_layer is not None and self._layers:
            self.build(self._input_layer.shape)
        return layer

    def _invalidate(self):
        self._plan = None
        self._engine = None

    def build(self, input_shape=None):
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError("Sequential.build() needs input_shape=(None, ...) when the "
                                 "model has no Input.")
            input_shape = self._input_layer.shape
        input_shape = tuple(input_shape)
        if self._input_layer is None:
            self._input_layer = InputLayer(shape=input_shape[1:], batch_size=input_shape[0],
                                           dtype=self._layers[0].dtype if self._layers else None)
        shape = self._input_layer.shape
        for layer in self._layers:
            if not layer.built:
                layer.build(shape)
            elif tuple(layer.input_shape[1:]) != tuple(shape[1:]):
                raise ValueError(
                    f"Layer {layer.name!r} was built for inputs of shape {layer.input_shape}; "
                    f"this model feeds it {shape}."
                )
            shape = layer.output_shape
        self.built = True

    def _require_built(self, what):
        if not self.built:
            raise ValueError(
                f"This model has not yet been built; {what} needs its weights. Build it by "
                "passing an Input (or input_shape=) to the first layer, calling "
                "build(input_shape), or fitting it on data."
            )

    # ---------------------------------------------------------------- weights
    @property
    def weights(self):
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self._layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    def get_weights(self):
        """Copies of every weight: per Dense layer its kernel (in, out), then its bias."""
        return [np.array(w, copy=True) for w in self.weights]

    def set_weights(self, weights):
        """Copy arrays into the weights, in get_weights order."""
        own = self.weights
        arrays = _validate.weight_arrays(own, weights)
        for w, new in zip(own, arrays):
            w[...] = new

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Save architecture, weights, compile settings and optimizer state to one file
        (``.keras`` by convention); see ``gradiente.saving``."""
        from .. import saving

        if zipped not in (None, True) or kwargs:
            raise ValueError("save() writes one zip file; pass only filepath and overwrite.")
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights to one file (``.weights.npz`` by convention)."""
        from .. import saving

        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        """Read weights written by save_weights (or save); the model is unchanged when
        the file is wrong."""
        from .. import saving

        if skip_mismatch:
            raise ValueError("load_weights(skip_mismatch=True) is not supported; pass False.")
        saving.load_weights(self, filepath)

    def count_params(self):
        self._require_built("count_params()")
        return int(sum(layer.count_params() for layer in self._layers))

    # ---------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Set the optimizer, loss and metrics; builds the training plan once the model's
        input shape is known."""
        if loss is None:
            raise ValueError("compile(loss=...) is required; pass e.g. "
                             "'sparse_categorical_crossentropy' or 'mse'.")
        if loss_weights is not None:
            raise ValueError("compile(loss_weights=...) is not supported yet; pass None.")
        ids = {}
        for arg, given in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            given = [] if given is None else given
            if not isinstance(given, (list, tuple)):
                raise TypeError(f"compile({arg}=...) expects a list; received {given!r}. "
                                f"Write {arg}=[{given!r}].")
            ids[arg] = [metrics_mod.check(m, f"compile({arg}=...)") for m in given]
        self._metric_ids = ids["metrics"]
        self._weighted_metric_ids = ids["weighted_metrics"]
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses_mod.get(loss)
        self.compiled = True
        self._invalidate()
        if self.built or self._input_layer is not None:
            self._ensure_plan()

    def get_compile_config(self):
        """compile()'s settings as a JSON-able dict (None before compile), as Keras's
        ``get_compile_config``: optimizer (with a schedule as its config), loss, metrics
        and weighted_metrics (names, or metric objects' configs)."""
        if not self.compiled:
            return None

        def metric(m):
            if isinstance(m, str):
                return m
            if isinstance(m, metrics_mod.Metric):
                return metrics_mod.serialize(m)
            return m.__name__

        return {"optimizer": optimizers.serialize(self.optimizer),
                "loss": losses_mod.serialize(self.loss),
                "metrics": [metric(m) for m in self._metric_ids],
                "weighted_metrics": [metric(m) for m in self._weighted_metric_ids],
                "loss_weights": None}

    def compile_from_config(self, config):
        """compile() with get_compile_config()'s dict."""
        def metric(m):
            return m if isinstance(m, str) else metrics_mod.get(m)

        self.compile(optimizer=optimizers.get(config["optimizer"]),
                     loss=losses_mod.get(config["loss"]),
                     metrics=[metric(m) for m in config.get("metrics") or []],
                     weighted_metrics=[metric(m) for m in config.get("weighted_metrics") or []])

    def _records(self):
        """LayerRecords for the engine, and the layers' weight views to rebind."""
        self._require_built("compile()")
        records = []
        offset = 0
        for layer in self._layers:
            if isinstance(layer, Flatten):
                continue  # the engine's inputs and activations are already flat
            n_in = int(np.prod(layer.input_shape[1:]))
            n_out = int(np.prod(layer.output_shape[1:]))
            if isinstance(layer, Dense):
                if len(layer.input_shape) != 2:
                    raise ValueError(
                        f"Dense layer {layer.name!r} receives inputs of shape "
                        f"{layer.input_shape}; training supports 2-D inputs to Dense. Add a "
                        "Flatten() before it."
                    )
                w_off = offset
                offset += n_in * n_out
                b_off = -1
                if layer.use_bias:
                    b_off = offset
                    offset += n_out
                rec = _engine.LayerRecord("dense", n_in, n_out, layer.activation_name,
                                          w_off, b_off, layer.trainable)
                for reg, i in layer._penalties():  # trainable weights only, as Keras
                    attr = ("kernel", "bias")[i]
                    setattr(rec, attr + "_l1", reg.l1)
                    setattr(rec, attr + "_l2", reg.l2)
                records.append(rec)
            elif isinstance(layer, Dropout):
                share_rows, share_cols = layer._shares(layer.input_shape)
                records.append(_engine.LayerRecord("dropout", n_in, n_out, rate=layer.rate,
                                                   seed=layer._seed, share_rows=share_rows,
                                                   share_cols=share_cols))
            elif isinstance(layer, Activation):
                if len(layer.input_shape) != 2 and layer.activation_name == "softmax":
                    raise ValueError(f"Activation layer {layer.name!r}: softmax over inputs of "
                                     f"shape {layer.input_shape} is not supported in training.")
                records.append(_engine.LayerRecord("act", n_in, n_out, layer.activation_name))
            else:  # pragma: no cover - every layer class is listed above
                raise TypeError(f"layer {layer.name!r} of type {type(layer).__name__} is not "
                                "supported by the training engine.")
        return records, offset

    def _ensure_plan(self):
        if self._plan is not None:
            return self._plan
        if not self.compiled:
            raise _validate.NotCompiledError("You must call compile() before using the model "
                                             "for training or evaluation.")
        if not self.built:
            self.build()
        records, n_params = self._records()
        dtype = np.dtype(self.dtype)
        params = _engine.aligned_array(n_params, dtype, 0, _engine.PARAMS_OFFSET)
        grads = _engine.aligned_array(n_params, dtype, 0, _engine.GRADS_OFFSET)
        dense = [layer for layer in self._layers if isinstance(layer, Dense)]
        for layer, rec in zip(dense, [r for r in records if r.kind == "dense"]):
            w_view = params[rec.w_offset:rec.w_offset + rec.n_in * rec.n_out]
            w_view = w_view.reshape(rec.n_in, rec.n_out)
            w_view[...] = layer.kernel
            layer.kernel = w_view
            if rec.b_offset >= 0:
                b_view = params[rec.b_offset:rec.b_offset + rec.n_out]
                b_view[...] = layer.bias
                layer.bias = b_view
        loss = self.loss
        spec = _engine.LossSpec(loss.kind, bool(loss.from_logits))
        spec.fused = _engine.fusable(records, spec)
        if not records:
            raise ValueError("The model has no layers to train; add a Dense layer.")
        plan = _engine.Plan(dtype=dtype, n_in=records[0].n_in, n_out=records[-1].n_out,
                            layers=records, params=params, grads=grads, loss=spec,
                            optimizer=self.optimizer._spec())
        for i, name in enumerate(self.optimizer._slot_names()):
            plan.slots[name] = _engine.aligned_array(
                n_params, dtype, self.optimizer._slot_initial(name),
                (_engine.SLOTS_OFFSET + _engine.SLOT_STRIDE * i) % 4096)
        self.optimizer._plan = plan
        self._plan = plan
        self._engine = None  # made once the metrics are resolved (they need the targets)
        self._metrics_resolved = False
        return plan

    def _resolve_metrics(self, y):
        """Resolve compile's metrics once the targets' shape is known (as Keras does)."""
        plan = self._plan
        if self._metrics_resolved:
            if self._engine is None:
                self._engine = _engine.make_engine(plan)
            return
        y = np.asarray(y)
        y_last = y.shape[-1] if y.ndim > 1 else 1
        plan.metrics = metrics_mod.resolve_all(self._metric_ids, self._weighted_metric_ids,
                                               y.ndim, y_last, plan.n_out)
        self._metrics_resolved = True
        self._engine = _engine.make_engine(plan)

    # ---------------------------------------------------------------- config and summary
    def get_config(self):
        layers = []
        if self._input_layer is not None:
            layers.append(serialize_layer(self._input_layer))
        layers += [serialize_layer(layer) for layer in self._layers]
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                  "layers": layers}
        if self._input_layer is not None:
            config["build_input_shape"] = self._input_layer.shape
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config.get("layers", []):
            model.add(deserialize_layer(layer_config))
        if not model.built and config.get("build_input_shape") and model._layers:
            model.build(config["build_input_shape"])
        return model

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print Keras 3's table: Layer (type), Output Shape, Param #, then the totals."""
        self._require_built("summary()")
        text = summary_text(self)
        if print_fn is None:
            print(text)
        else:
            for line in text.split("\n"):
                print_fn(line)

    def __call__(self, x):
        return self.predict_on_batch(x)

    def __repr__(self):
        return f"<Sequential name={self.name}, built={self.built}>"
