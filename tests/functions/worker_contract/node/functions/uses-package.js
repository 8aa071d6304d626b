const contractdep = require('contractdep');

exports.handler = (context, event, callback) => callback(null, contractdep.describe('node'));
