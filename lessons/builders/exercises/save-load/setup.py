import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 256)
        self.act = nn.ReLU()
        self.out = nn.Linear(256, 10)

    def forward(self, X):
        return self.out(self.act(self.hidden(X)))


net = MLP()
X = torch.rand(2, 64)
Y = net(X)
