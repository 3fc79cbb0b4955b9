import torch

X = torch.arange(12, dtype=torch.float32).reshape(3, 4)
a = torch.tensor([3.5])
