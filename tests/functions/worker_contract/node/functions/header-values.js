exports.handler = (context, event, callback) => {
  const response = new Twilio.Response();
  response.appendHeader('X-Int', 5).appendHeader('X-Bool', true);
  response.appendHeader('X-Float', 1.5).appendHeader('X-List', ['a', 'b']);
  response.setBody(['not', 'text']);
  return callback(null, response);
};
