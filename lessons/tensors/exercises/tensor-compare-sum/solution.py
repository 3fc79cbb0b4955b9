eq = X == Y
total = X.sum()
