// A typo: the entry point is called `handle`, so there is no `handler`.
exports.CONSTANT = 1;
exports.helper = () => 'helper';
exports.handle = (context, event, callback) => callback(null, 'never reached');
