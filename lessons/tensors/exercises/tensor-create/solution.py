zeros = torch.zeros((2, 3, 4))
ones = torch.ones((2, 3, 4))
T = torch.tensor([[1, 2, 3, 4], [2, 3, 4, 1], [2, 4, 1, 5]])
R = torch.randn(3, 4)
