exports.handler = (context, event, callback) => {
// Construct an object in any way
const response = { result: "winner winner!" };
// A JavaScript object as a response will be serialized to JSON and returned
// with the Content-Type header set to "application/json" automatically
return callback(null, response);
};
