def handler(context, event, callback):
    greeting = f"Hello, {event.get('name', 'there')}!"
    return callback(None, greeting)  # BREAK HERE
