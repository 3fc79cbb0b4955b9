net = nn.Sequential(nn.Flatten(),
                    nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2),
                    nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.5),
                    nn.Linear(256, 10))
train_iter = DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True)
loss = nn.CrossEntropyLoss()
trainer = torch.optim.SGD(net.parameters(), lr=0.5)
losses = []
for epoch in range(10):
    net.train()
    for X, y in train_iter:
        l = loss(net(X), y)
        trainer.zero_grad()
        l.backward()
        trainer.step()
    net.eval()
    with torch.no_grad():
        losses.append(loss(net(X_train), y_train).item())
