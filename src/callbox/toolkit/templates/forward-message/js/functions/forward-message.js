// Public function: /<namespace>/forward-message, an SMS webhook forwarding each message to
// MY_PHONE_NUMBER (set in .env) with the sender's number and the text.
exports.handler = function (context, event, callback) {
  const to = context.MY_PHONE_NUMBER;
  if (!to) {
    return callback(
      'MY_PHONE_NUMBER is not set: add the number to forward messages to ' +
        '(E.164, e.g. +15551234567) to .env.'
    );
  }
  // <Message to="..."> sends the text to that number.
  const twiml = new Twilio.twiml.MessagingResponse();
  twiml.message({ to }, `From: ${event.From || ''}. Body: ${event.Body || ''}`);
  return callback(null, twiml);
};
