def softmax(X):
    # Shifting by the row maximum leaves softmax unchanged and avoids overflow in exp.
    X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)
    partition = X_exp.sum(1, keepdim=True)
    return X_exp / partition
