import torch

X = torch.arange(16, dtype=torch.float32).reshape(2, 8)


def seeded(t, seed):
    """t itself, after seeding torch's generator (the grader calls dropout_layer on it)."""
    torch.manual_seed(seed)
    return t


torch.manual_seed(0)
