exports.handler = (context, event, callback) => {
// Create a new voice response object
const twiml = new Twilio.twiml.VoiceResponse();
// Webhook information is accessible as properties of the `event` object
const city = event.FromCity;
const number = event.From;
// You can optionally edit the voice used, template variables into your
// response, play recorded audio, and more
twiml.say({ voice: "alice" }, `Never gonna give you up, ${city || number}`);
twiml.play("https://demo.twilio.com/docs/classic.mp3");
// Return the TwiML as the second argument to `callback`
// This will render the response as XML in reply to the webhook request
return callback(null, twiml);
};
