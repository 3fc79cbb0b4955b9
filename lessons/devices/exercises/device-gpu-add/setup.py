import torch

Y = torch.rand(2, 3, generator=torch.Generator().manual_seed(0))  # on the CPU
