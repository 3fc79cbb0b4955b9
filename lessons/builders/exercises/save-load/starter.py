# save net's parameters to the file "mlp.params"
state = None  # what torch.load reads back from "mlp.params"
clone = MLP()
# load state into clone, then switch clone to evaluation mode
Y_clone = clone(X)
