net = nn.Sequential(nn.Flatten(),
                    nn.Linear(64, 256), nn.ReLU(),  # dropout 0.2 after this ReLU
                    nn.Linear(256, 256), nn.ReLU(),  # dropout 0.5 after this one
                    nn.Linear(256, 10))
train_iter = DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True)
loss = nn.CrossEntropyLoss()
trainer = torch.optim.SGD(net.parameters(), lr=0.5)
losses = []
for epoch in range(10):
    for X, y in train_iter:
        l = loss(net(X), y)
        trainer.zero_grad()
        l.backward()
        trainer.step()
    with torch.no_grad():
        losses.append(loss(net(X_train), y_train).item())
