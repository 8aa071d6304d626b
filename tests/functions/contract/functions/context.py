"""Answers with what the context holds, through both attribute and item access."""


def handler(context, event, callback):
    callback(
        None,
        {
            "DOMAIN_NAME": context.DOMAIN_NAME,
            "PATH": context.PATH,
            "GREETING": context.GREETING,
            "SECRET_NUMBER": context["SECRET_NUMBER"],
        },
    )
