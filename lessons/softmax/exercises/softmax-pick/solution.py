picked = y_hat[torch.arange(len(y_hat)), y]
