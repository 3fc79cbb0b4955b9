images = pixels.reshape(-1, 1, 8, 8).float() / 16
counts = torch.bincount(labels, minlength=10)
mean_zero = images[labels == 0].mean(dim=0)
