shape_ab = None  # your prediction, as a tuple of integers
err = y_hat - y  # broadcasts silently to shape (4, 4): repair it
