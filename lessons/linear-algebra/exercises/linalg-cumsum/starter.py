cs = None  # your code here
