data = pd.read_csv("data/house_tiny.csv")
