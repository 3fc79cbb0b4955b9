l2 = None  # your code here
l1 = None
fro = None
