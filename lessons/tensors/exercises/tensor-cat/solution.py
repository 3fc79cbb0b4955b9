rows = torch.cat((X, Y), dim=0)
cols = torch.cat((X, Y), dim=1)
