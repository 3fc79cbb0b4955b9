import torch

x = torch.arange(4.0, requires_grad=True)
