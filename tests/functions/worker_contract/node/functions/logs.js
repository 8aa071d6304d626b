exports.handler = (context, event, callback) => {
  console.log('a print line');
  console.info('an info line');
  console.warn('a warning line');
  console.error('an error line');
  return callback(null, 'logged');
};
