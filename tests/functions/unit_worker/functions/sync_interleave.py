import time


def handler(context, event, callback):
    tag = event["tag"]
    for step in range(4):
        print(f"{tag} step {step}")
        time.sleep(0.03)
    return tag
