num_params = 0  # the number of scalars in all parameters of net
names = []  # the names of net's parameters, in order


def init_normal(m):
    pass  # for an nn.Linear m: weight from N(0, 0.01^2), bias zeros


# apply init_normal to every layer of net
