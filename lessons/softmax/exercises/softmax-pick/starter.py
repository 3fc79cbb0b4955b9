picked = None  # your code here
