import torch

A = torch.arange(20, dtype=torch.float32).reshape(5, 4)
u = torch.tensor([3.0, -4.0])
