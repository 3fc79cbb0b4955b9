zeros = None  # your code here
ones = None
T = None
R = None
