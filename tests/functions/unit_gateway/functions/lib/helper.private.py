def greet(name):
    return f"Hi {name} from a private helper"
