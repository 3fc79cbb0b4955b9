w = None  # your code here: shape (2, 1), requires_grad=True
b = None  # shape (1,), requires_grad=True


def linreg(X, w, b):
    pass  # your code here


def squared_loss(y_hat, y):
    pass  # your code here


def sgd(params, lr, batch_size):
    pass  # your code here


# the training loop: for each epoch, for X, y in data_iter(batch_size, features, labels): ...
