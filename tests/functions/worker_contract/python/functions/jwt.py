def handler(context, event, callback):
    AccessToken = Twilio.jwt.AccessToken  # noqa: F821 - injected global
    token = AccessToken(
        context.ACCOUNT_SID, context.API_KEY, context.API_SECRET, identity="alice", ttl=600
    )
    token.add_grant(AccessToken.ChatGrant(service_sid="IS00000000000000000000000000000000"))
    callback(None, {"token": token.to_jwt()})
