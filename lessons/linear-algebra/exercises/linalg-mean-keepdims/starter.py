mean = None  # your code here
sum_A = None
normalized = None
