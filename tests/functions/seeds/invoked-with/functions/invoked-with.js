exports.handler = function(context, event, callback) {
console.log("Invoked with: ", event);
return callback(null, "OK");
};
