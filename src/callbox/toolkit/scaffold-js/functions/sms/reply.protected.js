// Protected function: /sms/reply, answering only requests signed by Twilio (X-Twilio-Signature,
// checked with AUTH_TOKEN from .env before this handler runs).
/** @type {import('@twilio-labs/serverless-runtime-types/types').ServerlessFunctionSignature} */
exports.handler = function (context, event, callback) {
  const twiml = new Twilio.twiml.MessagingResponse();
  twiml.message('Hello World!');
  callback(null, twiml);
};
