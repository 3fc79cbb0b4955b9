num_inputs, num_hiddens, num_outputs = 64, 256, 10
W1 = None  # (64, 256), N(0, 0.01^2), trainable
b1 = None  # (256,), zeros, trainable
W2 = None  # (256, 10), N(0, 0.01^2), trainable
b2 = None  # (10,), zeros, trainable


def relu(X):
    return X  # max(X, 0), elementwise, without changing X


def net(X):
    X = X.reshape(-1, num_inputs)
    return X  # the output layer's logits


relu_Z = relu(Z)
losses = []
# Train for 5 epochs (cross-entropy, SGD with lr=0.5, minibatches of 32);
# after each epoch append the loss over the whole training set to losses.
logits = net(X_train[:5])
