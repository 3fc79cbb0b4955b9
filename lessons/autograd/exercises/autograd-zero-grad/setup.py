import torch

x = torch.arange(4.0, requires_grad=True)
(2 * torch.dot(x, x)).backward()  # x.grad now holds 4x
