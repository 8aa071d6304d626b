exports.handler = (context, event, callback) => {
  console.log('an info line');
  console.warn('a warning line');
  console.error('an error line');
  callback(null, 'logged');
};
