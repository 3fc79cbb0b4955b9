add = x + y
sub = x - y
mul = x * y
div = x / y
power = x**y
e = torch.exp(x)
