exports.handler = (context, event, callback) => callback(null, 'Grüße, 世界 ☃');
