A = None  # your code here
B = None
item = None
f = None
i = None
