rows = None  # your code here
cols = None
