import os

import pandas as pd
import torch

os.makedirs("data", exist_ok=True)
with open(os.path.join("data", "house_tiny.csv"), "w") as f:
    f.write(
        "NumRooms,Alley,Price\n"  # column names
        "NA,Pave,127500\n"  # one line per house
        "2,NA,106000\n"
        "4,NA,178100\n"
        "NA,NA,140000\n"
    )

data = pd.read_csv("data/house_tiny.csv")
inputs, outputs = data.iloc[:, 0:2], data.iloc[:, 2]
inputs = inputs.fillna(inputs.mean(numeric_only=True))
inputs = pd.get_dummies(inputs, dummy_na=True)
