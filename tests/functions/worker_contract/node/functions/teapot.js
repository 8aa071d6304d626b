exports.handler = (context, event, callback) => {
  const response = new Twilio.Response();
  response.setStatusCode(418);
  response.setHeaders({ 'X-Custom': 'yes' });
  response.appendHeader('X-Multi', 'a').appendHeader('X-Multi', 'b');
  response.setBody({ teapot: true });
  return callback(null, response);
};
