# Wrappers of the dense, activation, softmax/cross-entropy, loss and optimizer
# kernels (included by _ckernels.pyx).
