inputs = pd.get_dummies(inputs, dummy_na=True)
