import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

# The data of the previous exercise: 200 inputs, 20 training examples, 100 test examples.
n_train, n_test, num_inputs, batch_size = 20, 100, 200, 5
true_w, true_b = torch.ones((num_inputs, 1)) * 0.01, 0.05
_g = torch.Generator().manual_seed(0)
train_features = torch.normal(0, 1, (n_train, num_inputs), generator=_g)
train_labels = train_features @ true_w + true_b + torch.normal(0, 0.01, (n_train, 1), generator=_g)
test_features = torch.normal(0, 1, (n_test, num_inputs), generator=_g)
test_labels = test_features @ true_w + true_b + torch.normal(0, 0.01, (n_test, 1), generator=_g)
train_iter = DataLoader(TensorDataset(train_features, train_labels), batch_size=batch_size,
                        shuffle=True)

torch.manual_seed(0)  # the initial parameters below and the DataLoader's shuffling
net = nn.Sequential(nn.Linear(num_inputs, 1))
for param in net.parameters():
    param.data.normal_()
loss = nn.MSELoss()
