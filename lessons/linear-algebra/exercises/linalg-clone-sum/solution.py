B = A.clone()
sum0 = A.sum(axis=0)
sum1 = A.sum(axis=1)
