x.grad.zero_()
y = x.sum()
y.backward()
