wd, lr = 3, 0.003
trainer = torch.optim.SGD(
    [{"params": net[0].weight, "weight_decay": wd}, {"params": net[0].bias}], lr=lr
)
train_losses = []
for epoch in range(100):
    for X, y in train_iter:
        trainer.zero_grad()
        l = loss(net(X), y)
        l.backward()
        trainer.step()
    with torch.no_grad():
        train_losses.append(loss(net(train_features), train_labels).item())
