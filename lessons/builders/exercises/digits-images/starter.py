images = None  # (1437, 1, 8, 8), float32, pixels scaled to [0, 1]
counts = None  # how many images of each digit 0..9
mean_zero = None  # the average image of the digit 0, shape (1, 8, 8)
