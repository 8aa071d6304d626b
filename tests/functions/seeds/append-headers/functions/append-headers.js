exports.handler = (context, event, callback) => {
const response = new Twilio.Response();
response
  .appendHeader('content-type', 'application/json')
  // You can append a multi-value header by passing a list of strings
  .appendHeader('yes', ['no', 'maybe', 'so'])
  // Instead of setting the header to an array, it's also valid to
  // pass a comma-separated string of values
  .appendHeader('cache-control', 'no-store, max-age=0');
return callback(null, response);
};
