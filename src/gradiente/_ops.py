"""Backend-dispatched kernels: the same names and signatures as ``_reference``.

Layers call these for inference, gradient checks and anything the engine does not
run. With the ``numpy`` backend each goes to ``_reference``; with ``native`` to the
C kernels (inputs validated and made contiguous here, outputs allocated here).
"""
from . import _reference

gemm = _reference.gemm
act_fwd = _reference.act_fwd
act_bwd = _reference.act_bwd
dense_fwd = _reference.dense_fwd
dense_bwd = _reference.dense_bwd
softmax = _reference.softmax
softmax_xent = _reference.softmax_xent
loss = _reference.loss
sgd_step = _reference.sgd_step
adam_step = _reference.adam_step
adam_alpha = _reference.adam_alpha
