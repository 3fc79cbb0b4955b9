data = None  # your code here
