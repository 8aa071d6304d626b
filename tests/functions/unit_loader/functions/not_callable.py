handler = "a string, not a function"
