# Write X + Y into Z, then add Y into X, both in place.
# your code here
