Z[:] = X + Y
X += Y
