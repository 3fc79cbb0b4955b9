l2 = torch.norm(u)
l1 = torch.abs(u).sum()
fro = torch.norm(torch.ones((4, 9)))
