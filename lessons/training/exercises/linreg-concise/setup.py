import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

# 1000 samples of y = Xw + b + noise, as in the lesson on linear regression from scratch.
true_w = torch.tensor([2.0, -3.4])
true_b = 4.2
_g = torch.Generator().manual_seed(0)
features = torch.normal(0, 1, (1000, 2), generator=_g)
noise = torch.normal(0, 0.01, (1000,), generator=_g)
labels = (features @ true_w + true_b + noise).reshape(-1, 1)
torch.manual_seed(0)  # the DataLoader's shuffling and nn.Linear's initialisation
