X = None  # your code here
# move Y to the GPU here
Z = None
