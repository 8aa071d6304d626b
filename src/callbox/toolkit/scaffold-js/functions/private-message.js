// Public function: /private-message, an SMS reply whose text comes from a private asset.
/** @type {import('@twilio-labs/serverless-runtime-types/types').ServerlessFunctionSignature} */
exports.handler = function (context, event, callback) {
  // Private assets are not served; functions find their file through Runtime.getAssets().
  const assets = Runtime.getAssets();
  const privateMessage = require(assets['/message.js'].path);
  const twiml = new Twilio.twiml.MessagingResponse();
  twiml.message(privateMessage());
  callback(null, twiml);
};
