exports.handler = (context, event, callback) => {
const response = new Twilio.Response();
response
  .appendHeader('never', 'gonna')
  // Appending a header that already exists will convert that header to
  // a multi-value header and concatenate the new value
  .appendHeader('never', 'give')
  .appendHeader('never', 'you')
  .appendHeader('never', 'up');
  // The header is now `'never': ['gonna', 'give', 'you', 'up']`
return callback(null, response);
};
