X = torch.ones(2, 3, device="cuda")
Y = Y.cuda()
Z = X + Y
