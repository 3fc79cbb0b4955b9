W = torch.normal(0, 0.01, size=(64, 10), requires_grad=True)
b = torch.zeros(10, requires_grad=True)


def net(X):
    return X @ W + b  # logits


def cross_entropy(logits, y):
    ...  # the loss of each example, computed from the logits


def accuracy(y_hat, y):
    ...  # the share of rows of y_hat whose largest entry is at index y


train_iter = DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True)
lr = 0.5
losses = []
