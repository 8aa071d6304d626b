exports.handler = (context, event, callback) => {
  const functions = Runtime.getFunctions();
  const helper = require(functions['lib/helper'].path);
  return callback(null, {
    lib: Object.keys(functions)
      .filter((key) => key.startsWith('lib/'))
      .sort(),
    has_self: 'functions' in functions,
    shout: helper.shout('hello'),
  });
};
