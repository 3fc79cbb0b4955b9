gaps = {name: test - train for name, (train, test) in results.items()}
underfit = "linear"
overfit = "degree-19"
