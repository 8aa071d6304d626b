exports.handler = (context, event, callback) =>
  callback(null, {
    twilioKeys: Object.keys(Twilio).sort(),
    spread: Object.keys({ ...Twilio }).includes('twiml'),
    responseIsGlobal: Twilio.Response === Response,
    functions: Object.keys(Functions).includes('node-only/globals'),
    client: twilioClient === undefined ? null : twilioClient.accountSid,
  });
