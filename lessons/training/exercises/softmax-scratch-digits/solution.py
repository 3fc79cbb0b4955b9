W = torch.normal(0, 0.01, size=(64, 10), requires_grad=True)
b = torch.zeros(10, requires_grad=True)


def net(X):
    return X @ W + b  # logits


def cross_entropy(logits, y):
    # log-softmax with the LogSumExp trick: subtract the row maximum before exp
    m = logits.max(dim=1, keepdim=True).values
    log_probs = logits - m - torch.log(torch.exp(logits - m).sum(dim=1, keepdim=True))
    return -log_probs[range(len(y)), y]


def accuracy(y_hat, y):
    return float((y_hat.argmax(dim=1) == y).float().mean())


train_iter = DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True)
lr = 0.5
losses = []
for epoch in range(10):
    for X, y in train_iter:
        l = cross_entropy(net(X), y).mean()
        l.backward()
        with torch.no_grad():
            W -= lr * W.grad
            b -= lr * b.grad
            W.grad.zero_()
            b.grad.zero_()
    with torch.no_grad():
        losses.append(cross_entropy(net(X_train), y_train).mean().item())
