B = None  # your code here
sum0 = None
sum1 = None
