exports.handler = (context, event, callback) => {
  const client = context.getTwilioClient();
  return callback(null, { account_sid: client.accountSid });
};
