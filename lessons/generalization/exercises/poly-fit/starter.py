train_features = poly_features[:n_train, :4]  # 1, x, x^2/2!, x^3/3!
test_features = ...
net = nn.Sequential(nn.Linear(4, 1, bias=False))
loss = nn.MSELoss()
train_losses, test_losses = [], []
# 60 epochs of minibatch SGD (lr=0.05, batches of 10, shuffled); after each epoch append
# the loss over all training examples and over all test examples.

w = net[0].weight.data.reshape(-1)
