// Logs a line, never calls back; what it scheduled must not run once it is cancelled.
exports.handler = (context, event, callback) => {
  console.log('started');
  setTimeout(() => {
    console.log('LEAK never');
    callback(null, 'too late');
  }, 300);
};
