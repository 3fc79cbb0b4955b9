inputs = None  # your code here
