exports.handler = (context, event, callback) => {
const response = new Twilio.Response();
response.removeCookie('tz');
return callback(null, response);
};
