# Clear x.grad, then back-propagate x.sum().
# your code here
