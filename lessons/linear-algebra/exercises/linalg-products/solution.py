d = torch.dot(x, y)
Ax = torch.mv(A, x)
AM = torch.mm(A, M)
