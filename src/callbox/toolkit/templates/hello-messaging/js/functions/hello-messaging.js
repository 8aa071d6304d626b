// Public function: /<namespace>/hello-messaging, an SMS webhook replying "Hello World".
exports.handler = function (context, event, callback) {
  // Twilio is a global, as in Twilio Functions; TwiML answers with text/xml.
  const twiml = new Twilio.twiml.MessagingResponse();
  twiml.message('Hello World');
  return callback(null, twiml);
};
