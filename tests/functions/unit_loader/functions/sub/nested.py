def not_the_handler():
    return None
