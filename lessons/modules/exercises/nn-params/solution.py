bias = net[2].bias.data
keys = list(net[2].state_dict().keys())
grad_before = net[2].weight.grad
net(X).sum().backward()
grad_shape = tuple(net[2].weight.grad.shape)
