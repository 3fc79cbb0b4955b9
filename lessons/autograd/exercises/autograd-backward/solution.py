y = 2 * torch.dot(x, x)
y.backward()
