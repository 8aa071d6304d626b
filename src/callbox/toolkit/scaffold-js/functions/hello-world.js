// Public function: /hello-world, a voice webhook saying "Hello World!" (TwiML <Say>).
/** @type {import('@twilio-labs/serverless-runtime-types/types').ServerlessFunctionSignature} */
exports.handler = function (context, event, callback) {
  const twiml = new Twilio.twiml.VoiceResponse();
  twiml.say('Hello World!');
  callback(null, twiml);
};
