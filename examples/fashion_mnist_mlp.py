"""The founding example on Fashion-MNIST (Zalando's clothing images).

Run: python examples/fashion_mnist_mlp.py [loss.png]
(the plot goes to fashion_mnist_loss.png by default)
"""
import sys

from gradiente.models import Sequential
from gradiente.layers import Dense, Flatten
from gradiente.datasets import fashion_mnist
(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
x_train = x_train.astype('float32') / 255
x_test = x_test.astype('float32') / 255
model = Sequential()
model.add(Flatten(input_shape=(28, 28)))
model.add(Dense(128, activation='relu'))
model.add(Dense(10, activation='softmax'))
model.compile(loss='sparse_categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=5, batch_size=32)

from gradiente.utils import plot_history  # noqa: E402

plot_path = sys.argv[1] if len(sys.argv) > 1 else "fashion_mnist_loss.png"
plot_history(history, metrics=("loss",), path=plot_path)
print(f"Saved the loss plot to {plot_path}")

test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"Test accuracy: {test_accuracy:.4f}")
