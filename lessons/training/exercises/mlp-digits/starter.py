train_iter = DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True)
net = ...  # Flatten, Linear(64, 256), ReLU, Linear(256, 10)
loss = nn.CrossEntropyLoss()
losses = []
# Train for 10 epochs with SGD (lr=0.5); after each one append the training loss.
num_params = 0
