n = None  # your code here
