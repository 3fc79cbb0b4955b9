X = None  # your code here
y = None
