class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 256)  # the hidden layer
        self.act = nn.ReLU()
        self.out = nn.Linear(256, 10)  # the output layer

    def forward(self, X):
        return self.out(self.act(self.hidden(X)))


net = MLP()
loss = nn.CrossEntropyLoss()
trainer = torch.optim.SGD(net.parameters(), lr=0.5)
train_iter = DataLoader(TensorDataset(X_train, y_train), batch_size=32, shuffle=True)
losses = []
for epoch in range(5):
    for X, y in train_iter:
        l = loss(net(X), y)
        trainer.zero_grad()
        l.backward()
        trainer.step()
    with torch.no_grad():
        losses.append(loss(net(X_train), y_train).item())
