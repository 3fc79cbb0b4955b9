net = None  # your code here
out = None
