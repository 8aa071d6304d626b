"""A private helper: not routable, loaded by other functions through Runtime."""


def shout(text):
    return text.upper() + "!"
