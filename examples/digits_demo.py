"""Train a 64-64-10 network on scikit-learn's bundled digits and print the test accuracy."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import glassnet as gn

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                    stratify=y)
net = gn.Sequential(
    [gn.Dense(64, activation="relu"), gn.Dense(10, activation="softmax")],
    loss="cross_entropy", optimizer=gn.Adam(learning_rate=3e-3), random_state=0,
)
history = net.fit(X_train, y_train, epochs=30, batch_size=32, validation_split=0.1, verbose=1,
                  callbacks=[gn.EarlyStopping(patience=5)])
print(f"test accuracy: {net.evaluate(X_test, y_test)['accuracy']:.4f}")
