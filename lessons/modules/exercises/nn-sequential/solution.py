net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
out = net(X)
