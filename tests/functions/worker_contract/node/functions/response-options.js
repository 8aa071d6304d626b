exports.handler = (context, event, callback) =>
  callback(
    null,
    new Twilio.Response({ statusCode: 201, body: 'created', headers: { 'X-From': 'options' } }),
  );
