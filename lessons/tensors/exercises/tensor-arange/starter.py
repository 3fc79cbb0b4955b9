x = None  # your code here
n = None
X = None
