y = x * x
u = None  # your code here: y, detached
z = None
