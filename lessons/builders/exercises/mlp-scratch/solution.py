num_inputs, num_hiddens, num_outputs = 64, 256, 10
W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * 0.01)
b1 = nn.Parameter(torch.zeros(num_hiddens))
W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs) * 0.01)
b2 = nn.Parameter(torch.zeros(num_outputs))
params = [W1, b1, W2, b2]


def relu(X):
    a = torch.zeros_like(X)
    return torch.max(X, a)


def net(X):
    X = X.reshape(-1, num_inputs)
    H = relu(X @ W1 + b1)
    return H @ W2 + b2


relu_Z = relu(Z)
loss = nn.CrossEntropyLoss()
train_iter = DataLoader(TensorDataset(X_train, y_train), batch_size=32, shuffle=True)
lr = 0.5
losses = []
for epoch in range(5):
    for X, y in train_iter:
        l = loss(net(X), y)
        l.backward()
        with torch.no_grad():  # minibatch SGD, written out (or: torch.optim.SGD(params, lr))
            for param in params:
                param -= lr * param.grad
                param.grad.zero_()
    with torch.no_grad():
        losses.append(loss(net(X_train), y_train).item())
logits = net(X_train[:5])
