eq = None  # your code here
total = None
