exports.handler = (context, event, callback) => {
const response = new Twilio.Response();
response
  .setCookie('has_recent_activity', 'true')
  .setCookie('tz', 'America/Los_Angeles', [
    'HttpOnly',
    'Secure',
    'SameSite=Strict',
    'Max-Age=86400',
  ]);
return callback(null, response);
};
