// TwiML from the twilio package the function requires itself.
const twilio = require('twilio');

exports.handler = (context, event, callback) => {
  const twiml = new twilio.twiml.MessagingResponse();
  twiml.message('required');
  return callback(null, twiml);
};
