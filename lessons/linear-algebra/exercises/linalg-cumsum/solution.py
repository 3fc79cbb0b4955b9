cs = A.cumsum(axis=0)
