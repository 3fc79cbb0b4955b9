train_iter = DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True)
net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
loss = nn.CrossEntropyLoss()  # takes logits: softmax and log are fused inside
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
