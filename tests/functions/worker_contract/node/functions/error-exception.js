class BadValue extends Error {}
BadValue.prototype.name = 'BadValue';

exports.handler = (context, event, callback) =>
  callback(new BadValue('bad value from the function'));
