import base64
import io

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

# 1,437 of scikit-learn's 8x8 handwritten digits (BSD licence; credit in the lesson's
# DATA.md), each flattened to 64 pixels scaled to [0, 1]. The grader measures accuracy on
# 360 other digits that your run never sees.
with open("digits_train.b64") as f:
    _digits = np.load(io.BytesIO(base64.b64decode(f.read())))
X_train = torch.tensor(_digits["X"], dtype=torch.float32) / 16
y_train = torch.tensor(_digits["y"])
torch.manual_seed(0)  # the layers' initialisation and the DataLoader's shuffling
