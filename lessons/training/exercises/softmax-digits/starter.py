train_iter = DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True)
net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
loss = nn.CrossEntropyLoss()
trainer = torch.optim.SGD(net.parameters(), lr=0.5)
losses = []
# Train for 10 epochs; after each one append the loss over the whole training set.
