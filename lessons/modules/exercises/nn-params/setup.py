import torch
from torch import nn

X = torch.rand(2, 4, generator=torch.Generator().manual_seed(1))
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
torch.manual_seed(0)
