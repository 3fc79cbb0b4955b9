import torch

x = torch.tensor([1.0, 2, 3, 1])
y = torch.tensor([2, 2, 1, 3])
