exports.handler = (context, event, callback) => {
// Providing a string will result in a 200 OK
return callback(null, "This is fine");
};
