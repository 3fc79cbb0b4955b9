import base64
import io

import numpy as np
import torch

# 1,437 of scikit-learn's 8x8 handwritten digits (BSD licence; credit in the lesson's
# DATA.md), as stored: one row of 64 pixels per image, whole numbers 0 (white) to 16 (black).
with open("digits_train.b64") as f:
    _digits = np.load(io.BytesIO(base64.b64decode(f.read())))
pixels = torch.tensor(_digits["X"])  # (1437, 64), torch.uint8
labels = torch.tensor(_digits["y"])  # (1437,), torch.int64, digits 0 to 9
