from callbox.runtime import Runtime as ExplicitRuntime
from callbox.runtime import Twilio as ExplicitTwilio


def handler(context, event, callback):
    return {"same_twilio": ExplicitTwilio is Twilio, "same_runtime": ExplicitRuntime is Runtime}
