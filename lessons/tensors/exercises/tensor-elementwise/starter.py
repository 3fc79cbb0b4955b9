add = None  # your code here
sub = None
mul = None
div = None
power = None
e = None
