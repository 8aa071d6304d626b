"""Private helper: not routable, loaded by other functions via Runtime.get_functions()."""


def greet(name: str) -> str:
    return f"Hello, {name.strip() or 'World'}!"
