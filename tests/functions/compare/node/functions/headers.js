exports.handler = (context, event, callback) => {
  const response = new Twilio.Response();
  for (let i = 0; i < 100; i += 1) response.appendHeader(`X-Header-${i}`, 'v');
  callback(null, response);
};
