exports.handler = (context, event, callback) => {
  console.log('%s is %d', 'answer', 42, { deep: true });
  console.debug('a debug line');
  process.stdout.write('writ');
  process.stdout.write('ten\nand more');
  process.stderr.write('to stderr\n');
  return callback(null, 'written');
};
