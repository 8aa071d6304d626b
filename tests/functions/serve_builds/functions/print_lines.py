# Prints each `line` of the request as a log line, in order, then answers how many.
def handler(context, event, callback):
    lines = event.get("line", [])
    lines = [lines] if isinstance(lines, str) else lines
    for line in lines:
        print(line)
    return callback(None, str(len(lines)))
