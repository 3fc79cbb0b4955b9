import torch

a = torch.arange(8).reshape((2, 1, 4))
b = torch.arange(3).reshape((3, 1))
y_hat = torch.tensor([[2.5], [0.0], [2.1], [7.8]])
y = torch.tensor([3.0, -0.5, 2.0, 7.0])
