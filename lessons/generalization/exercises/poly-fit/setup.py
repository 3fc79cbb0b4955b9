import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

# y = 5 + 1.2 x - 3.4 x^2/2! + 5.6 x^3/3! + noise (d2l, "Underfitting and overfitting"),
# with the features x^i / i! up to degree 19: 100 training and 100 test examples.
max_degree = 20
n_train, n_test = 100, 100
true_w = torch.zeros(max_degree)
true_w[:4] = torch.tensor([5.0, 1.2, -3.4, 5.6])
_g = torch.Generator().manual_seed(0)
x = torch.normal(0, 1, (n_train + n_test, 1), generator=_g)
poly_features = x ** torch.arange(max_degree) / torch.tensor(
    [math.gamma(i + 1) for i in range(max_degree)]
)
labels = (poly_features @ true_w + torch.normal(0, 0.1, (n_train + n_test,), generator=_g))
labels = labels.reshape(-1, 1)
train_labels, test_labels = labels[:n_train], labels[n_train:]
torch.manual_seed(0)  # the DataLoader's shuffling and nn.Linear's initialisation
