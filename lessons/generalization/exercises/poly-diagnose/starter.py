gaps = {}  # model name -> test loss minus training loss
underfit = ""  # the name of the model that underfits
overfit = ""  # the name of the model that overfits
