import torch

A = torch.arange(20, dtype=torch.float32).reshape(5, 4)
