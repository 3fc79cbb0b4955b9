data_iter = DataLoader(TensorDataset(features, labels), batch_size=10, shuffle=True)
net = nn.Sequential(nn.Linear(2, 1))
loss = nn.MSELoss()
trainer = torch.optim.SGD(net.parameters(), lr=0.03)
losses = []
# For each of 3 epochs: for each minibatch, compute the loss, zero the gradients,
# call backward() and step(); then append the loss over all features to losses.

w = net[0].weight.data
b = net[0].bias.data
