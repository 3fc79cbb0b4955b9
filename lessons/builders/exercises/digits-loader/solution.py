dataset = TensorDataset(images, labels)
train_set, val_set = random_split(
    dataset, [1137, 300], generator=torch.Generator().manual_seed(42)
)
sizes = (len(train_set), len(val_set))
train_iter = DataLoader(train_set, batch_size=64, shuffle=True)
val_iter = DataLoader(val_set, batch_size=64, shuffle=False)
num_batches = len(train_iter)
X, y = next(iter(train_iter))
y_again = next(iter(train_iter))[1]
X_val, y_val = next(iter(val_iter))
