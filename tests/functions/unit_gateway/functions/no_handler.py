ANSWER = 42


def helper():
    return ANSWER
