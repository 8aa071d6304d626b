exports.handler = function (context, event, callback) callback(null, 'never reached');
