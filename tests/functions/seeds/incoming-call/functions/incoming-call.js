exports.handler = (context, event, callback) => {
// Create a new voice response object
const twiml = new Twilio.twiml.VoiceResponse();
// Use any of the Node.js SDK methods, such as `say`, to compose a response
twiml.say('Ahoy, World!');
// Return the TwiML as the second argument to `callback`
// This will render the response as XML in reply to the webhook request
return callback(null, twiml);
};
