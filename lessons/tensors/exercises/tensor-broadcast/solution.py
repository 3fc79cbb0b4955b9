shape_ab = (2, 3, 4)
err = y_hat.reshape(-1) - y
