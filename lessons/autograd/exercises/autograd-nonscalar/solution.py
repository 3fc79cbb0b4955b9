y = x * x
y.sum().backward()
