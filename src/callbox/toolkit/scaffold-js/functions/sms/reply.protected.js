// Protected function: /sms/reply, answering only requests signed by Twilio (X-Twilio-Signature,
// checked with AUTH_TOKEN from .env before this handler runs).
exports.handler = function (context, event, callback) {
  const twiml = new Twilio.twiml.MessagingResponse();
  twiml.message('Hello World!');
  callback(null, twiml);
};
