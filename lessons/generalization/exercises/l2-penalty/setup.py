import torch
from torch.utils.data import DataLoader, TensorDataset

# A high-dimensional linear problem with few examples (d2l, "Weight decay"):
# y = 0.05 + sum_i 0.01 x_i + noise, 200 inputs, only 20 training examples.
n_train, n_test, num_inputs, batch_size = 20, 100, 200, 5
true_w, true_b = torch.ones((num_inputs, 1)) * 0.01, 0.05
_g = torch.Generator().manual_seed(0)
train_features = torch.normal(0, 1, (n_train, num_inputs), generator=_g)
train_labels = train_features @ true_w + true_b + torch.normal(0, 0.01, (n_train, 1), generator=_g)
test_features = torch.normal(0, 1, (n_test, num_inputs), generator=_g)
test_labels = test_features @ true_w + true_b + torch.normal(0, 0.01, (n_test, 1), generator=_g)
train_iter = DataLoader(TensorDataset(train_features, train_labels), batch_size=batch_size,
                        shuffle=True)


def linreg(X, w, b):
    return X @ w + b


def squared_loss(y_hat, y):
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


torch.manual_seed(0)  # the initial weights below and the DataLoader's shuffling
w = torch.normal(0, 1, size=(num_inputs, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)
