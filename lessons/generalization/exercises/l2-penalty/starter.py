def l2_penalty(w):
    return 0.0  # half the sum of the squares of all elements of w


lambd, lr = 3, 0.003
for epoch in range(100):
    for X, y in train_iter:
        l = squared_loss(linreg(X, w, b), y)  # add the penalty, weighted by lambd
        l.sum().backward()
        sgd([w, b], lr, batch_size)
w_norm = float(w.norm())
