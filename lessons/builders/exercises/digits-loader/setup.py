import base64
import io

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset, random_split

# 1,437 of scikit-learn's 8x8 handwritten digits (BSD licence; credit in the lesson's
# DATA.md) as one-channel images with pixels in [0, 1], and their labels 0 to 9.
with open("digits_train.b64") as f:
    _digits = np.load(io.BytesIO(base64.b64decode(f.read())))
images = torch.tensor(_digits["X"]).reshape(-1, 1, 8, 8).float() / 16  # (1437, 1, 8, 8)
labels = torch.tensor(_digits["y"])  # (1437,)
torch.manual_seed(0)  # the DataLoader's shuffling
