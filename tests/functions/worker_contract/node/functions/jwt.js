exports.handler = (context, event, callback) => {
  const AccessToken = Twilio.jwt.AccessToken;
  const token = new AccessToken(context.ACCOUNT_SID, context.API_KEY, context.API_SECRET, {
    identity: 'alice',
    ttl: 600,
  });
  token.addGrant(new AccessToken.ChatGrant({ serviceSid: 'IS00000000000000000000000000000000' }));
  return callback(null, { token: token.toJwt() });
};
