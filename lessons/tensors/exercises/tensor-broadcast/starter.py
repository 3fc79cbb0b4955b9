c = None  # your code here
