def dropout_layer(X, p):
    assert 0 <= p <= 1
    if p == 1:
        return torch.zeros_like(X)
    mask = (torch.rand(X.shape) > p).float()
    return mask * X / (1.0 - p)


out = dropout_layer(torch.ones(200, 50), 0.3)
