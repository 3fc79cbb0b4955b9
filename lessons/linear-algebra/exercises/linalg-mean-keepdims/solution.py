mean = A.mean()
sum_A = A.sum(axis=1, keepdims=True)
normalized = A / sum_A
