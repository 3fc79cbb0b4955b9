num_params = sum(p.numel() for p in net.parameters())
names = [name for name, _ in net.named_parameters()]


def init_normal(m):
    if type(m) == nn.Linear:
        nn.init.normal_(m.weight, mean=0, std=0.01)
        nn.init.zeros_(m.bias)


net.apply(init_normal)
