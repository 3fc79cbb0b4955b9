import torch


def synthetic_data(w, b, num_examples, generator=None):
    """Generate y = Xw + b + noise."""
    X = torch.normal(0, 1, (num_examples, len(w)), generator=generator)
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape, generator=generator)
    return X, y.reshape((-1, 1))


def data_iter(batch_size, features, labels):
    """Yield minibatches of (features, labels) in a random order."""
    num_examples = len(features)
    indices = torch.randperm(num_examples)
    for i in range(0, num_examples, batch_size):
        batch = indices[i : i + batch_size]
        yield features[batch], labels[batch]


true_w = torch.tensor([2, -3.4])
true_b = 4.2
features, labels = synthetic_data(true_w, true_b, 1000, torch.Generator().manual_seed(0))
