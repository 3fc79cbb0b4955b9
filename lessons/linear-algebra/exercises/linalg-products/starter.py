d = None  # your code here
Ax = None
AM = None
