def handler(context, event, callback):
    print(f"hello ran for {event.get('name', 'World')}")
    return f"Hello {event.get('name', 'World')}"
