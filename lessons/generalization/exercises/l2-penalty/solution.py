def l2_penalty(w):
    return torch.sum(w.pow(2)) / 2


lambd, lr = 3, 0.003
for epoch in range(100):
    for X, y in train_iter:
        l = squared_loss(linreg(X, w, b), y) + lambd * l2_penalty(w)
        l.sum().backward()
        sgd([w, b], lr, batch_size)
w_norm = float(w.norm())
