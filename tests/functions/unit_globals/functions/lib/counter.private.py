LOADS = []
LOADS.append("loaded")


def greet(name):
    return f"counter greets {name}"
