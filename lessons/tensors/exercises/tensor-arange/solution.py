x = torch.arange(12)
n = x.numel()
X = x.reshape(3, 4)
