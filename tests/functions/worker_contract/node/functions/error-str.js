exports.handler = (context, event, callback) => callback('Something broke');
