c = a + b
