exports.handler = (context, event, callback) => {
  const response = new Twilio.Response();
  response.appendHeader('X-Object', { not: 'allowed' });
  return callback(null, response);
};
