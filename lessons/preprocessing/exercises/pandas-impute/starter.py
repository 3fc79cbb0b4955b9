inputs, outputs = None, None  # your code here
