train_features = poly_features[:n_train, :4]
test_features = poly_features[n_train:, :4]
net = nn.Sequential(nn.Linear(4, 1, bias=False))
loss = nn.MSELoss()
trainer = torch.optim.SGD(net.parameters(), lr=0.05)
train_iter = DataLoader(TensorDataset(train_features, train_labels), batch_size=10, shuffle=True)
train_losses, test_losses = [], []
for epoch in range(60):
    for X, y in train_iter:
        l = loss(net(X), y)
        trainer.zero_grad()
        l.backward()
        trainer.step()
    with torch.no_grad():
        train_losses.append(loss(net(train_features), train_labels).item())
        test_losses.append(loss(net(test_features), test_labels).item())
w = net[0].weight.data.reshape(-1)
