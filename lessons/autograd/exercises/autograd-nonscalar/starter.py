y = None  # your code here
